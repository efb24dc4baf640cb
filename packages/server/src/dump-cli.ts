/**
 * The streams behind `backchannel export` and `backchannel import`: the dump goes to stdout in
 * large chunks; a dump on stdin is first spooled to a private temporary file, so that the import
 * can read it twice (check every line, then write) however large it is.
 * @module
 */
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { BackchannelStore, DumpSummary, ImportOptions } from '@backchannel/unstorage'

/** This package's version, written in a dump's header (`../package.json` from `src/` and `dist/`). */
export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version

/** Characters gathered before one write to `out`: one write per line would cost a syscall each. */
const CHUNK = 64 * 1024

/**
 * Writes `store`'s dump to `out`, waiting whenever `out` is full.
 *
 * @example
 * ```ts
 * const { entries } = await exportTo(store, process.stdout)
 * ```
 */
export async function exportTo(store: BackchannelStore, out: Writable): Promise<DumpSummary> {
  let chunk = ''
  const flush = async () => {
    const full = !out.write(chunk)
    chunk = ''
    if (full) await once(out, 'drain')
  }
  const summary = await store.exportState(
    async (line) => {
      chunk += `${line}\n`
      if (chunk.length >= CHUNK) await flush()
    },
    { gateway: VERSION },
  )
  if (chunk) await flush()
  return summary
}

/**
 * Imports the dump read from `input` into `store`. The temporary copy lives in a folder only this
 * user can read (it holds session records and sealed secrets) and is deleted afterwards.
 *
 * @example
 * ```ts
 * const { entries } = await importFrom(store, process.stdin, { merge: false })
 * ```
 */
export async function importFrom(
  store: BackchannelStore,
  input: Readable,
  options: ImportOptions,
): Promise<DumpSummary> {
  const folder = await mkdtemp(join(tmpdir(), 'backchannel-import-'))
  const file = join(folder, 'dump.ndjson')
  try {
    await pipeline(input, createWriteStream(file, { mode: 0o600 }))
    const read = () => createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
    return await store.importState(read, options)
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}
