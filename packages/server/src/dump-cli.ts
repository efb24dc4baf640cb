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
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type BackchannelStore, type DumpSummary, type ImportOptions, MAX_LINE_BYTES } from '@backchannel/unstorage'

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
    return await store.importState(() => linesOf(createReadStream(file)), options)
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}

/**
 * The lines of `input` (without `\n` or `\r\n`). A line longer than {@link MAX_LINE_BYTES} is cut
 * one byte past it, so that the import refuses it by its length without holding it whole.
 *
 * @example
 * ```ts
 * for await (const line of linesOf(createReadStream('dump.ndjson'))) console.log(line.length)
 * ```
 */
export async function* linesOf(input: Readable): AsyncGenerator<string> {
  let parts: Buffer[] = []
  let length = 0
  const take = () => {
    const line = Buffer.concat(parts).toString('utf8')
    parts = []
    length = 0
    return line.endsWith('\r') ? line.slice(0, -1) : line
  }
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let start = 0
    for (let end = chunk.indexOf(10); ; end = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, end === -1 ? chunk.length : end)
      parts.push(part)
      length += part.length
      if (length > MAX_LINE_BYTES) {
        parts = [Buffer.concat(parts).subarray(0, MAX_LINE_BYTES + 1)]
        yield take()
        return
      }
      if (end === -1) break
      yield take()
      start = end + 1
    }
  }
  if (length > 0) yield take()
}
