/**
 * The portable dump behind `backchannel export` and `backchannel import`: a store's whole state as
 * NDJSON, readable by every engine. The first line is a header, then one line per
 * {@link DumpEntry} (records, index set members, claims, audit entries, each with its expiry),
 * then an end line that counts them, so that a dump cut short is told from a complete one.
 *
 *   {"backchannel":"dump","format":1,"gateway":"0.1.0","key":"…","exportedAt":1764748800.5}
 *   {"kind":"record","key":"app:…","value":"{…}","expiresAt":null}
 *   {"kind":"member","set":"a:…:iu:…","member":"…","expiresAt":1764835200}
 *   {"kind":"end","entries":2}
 *
 * Secrets stay sealed: records are copied byte for byte, so the target needs the same master key.
 * The header carries a fingerprint of it, never the key, and an import under another key is refused.
 * @module
 */
import { createHmac, hkdfSync } from 'node:crypto'
import { BackchannelError } from '@backchannel/core'
import { keyKind } from './_internal/keys.js'
import { SecretUnreadable } from './_internal/seal.js'
import type { DumpEntry, StoreBackend } from './backend.js'

/** The dump format this code writes and reads. */
export const DUMP_FORMAT = 1

/**
 * The longest dump line an import reads, in bytes (UTF-8): far above any entry a gateway writes
 * (a record holds one session, application or key), and low enough to hold in memory.
 *
 * @example
 * ```ts
 * import { MAX_LINE_BYTES } from '@backchannel/unstorage'
 * Buffer.byteLength('{"kind":"end","entries":0}') <= MAX_LINE_BYTES // true
 * ```
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024

/** Entries written to the target in one {@link StoreBackend.load}. */
const BATCH = 1000

/** A dump that cannot be imported as it is: not a dump, an unknown format, a bad or missing line. */
export class DumpInvalid extends BackchannelError {
  static override readonly code = 'ERR_DUMP_INVALID'
}

/** A dump made under another master key, or an export under a key that does not open the store's secrets. */
export class DumpKeyMismatch extends BackchannelError {
  static override readonly code = 'ERR_DUMP_KEY_MISMATCH'
}

/** An import, without `merge`, into a store that holds anything (e.g. what a gateway wrote at its start). */
export class ImportTargetNotEmpty extends BackchannelError {
  static override readonly code = 'ERR_IMPORT_TARGET_NOT_EMPTY'
}

/**
 * An import that failed after it began writing: the target holds part of the dump. The message
 * names the lines written; the cause is the store's error. Running the same import again with
 * `merge` completes it.
 */
export class ImportIncomplete extends BackchannelError {
  static override readonly code = 'ERR_IMPORT_INCOMPLETE'
}

/** Options of `BackchannelStore.exportState`. */
export interface ExportOptions {
  /** The version of the program that exports, written in the header (e.g. the gateway's). */
  gateway?: string
}

/** Options of `BackchannelStore.importState`. */
export interface ImportOptions {
  /**
   * Import into a store that already holds state, next to what is there: nothing is deleted or
   * replaced (a record is written only where the store has none, so a logout made since the dump
   * stays), claims and index members keep the later expiry. Default `false`: such a store is refused.
   */
  merge?: boolean
}

/** What an export or import did. */
export interface DumpSummary {
  /** Entries written (an import skips those that expired since the export). */
  entries: number
}

interface Header {
  backchannel: 'dump'
  format: number
  gateway?: string
  key: string
  exportedAt: number
}

/**
 * A fingerprint of the master key: HMAC-SHA-256 of a fixed label under a key derived from it
 * (HKDF), cut to 128 bits (22 base64url characters). It tells two keys apart and reveals nothing
 * of either.
 *
 * @example
 * ```ts
 * import { keyFingerprint } from '@backchannel/unstorage'
 * keyFingerprint(Buffer.from(process.env.BACKCHANNEL_MASTER_KEY ?? '', 'base64url')) // e.g. 'pX3…'
 * ```
 */
export function keyFingerprint(masterKey: Uint8Array): string {
  const derived = Buffer.from(hkdfSync('sha256', masterKey, '', 'backchannel dump fingerprint', 32))
  return createHmac('sha256', derived).update('backchannel master key').digest('base64url').slice(0, 22)
}

const dumpOf = (backend: StoreBackend) => {
  if (!backend.dump || !backend.load) throw new TypeError('this store backend cannot export or import its state')
  return { dump: backend.dump.bind(backend), load: backend.load.bind(backend) }
}

/**
 * Runs `readers`, which open sealed secrets (signing keys, application secrets), before an export:
 * its secrets are copied sealed, so under a key that cannot open them the dump would be useless.
 * @throws {DumpKeyMismatch} when the master key does not open one of them.
 */
export async function checkSecretsOpen(readers: (() => Promise<unknown>)[]): Promise<void> {
  try {
    for (const read of readers) await read()
  } catch (err) {
    if (!(err instanceof SecretUnreadable)) throw err
    throw new DumpKeyMismatch(
      "BACKCHANNEL_MASTER_KEY does not open this store's secrets: export with the key they were sealed with " +
        "(on fs, unset it to use the folder's master.key)",
      { cause: err },
    )
  }
}

/** Writes the dump's lines (each without its newline) to `write`, which may wait. */
export async function exportState(
  backend: StoreBackend,
  masterKey: Uint8Array,
  now: number,
  write: (line: string) => unknown,
  options: ExportOptions = {},
): Promise<DumpSummary> {
  const { dump } = dumpOf(backend)
  const header: Header = {
    backchannel: 'dump',
    format: DUMP_FORMAT,
    ...(options.gateway === undefined ? {} : { gateway: options.gateway }),
    key: keyFingerprint(masterKey),
    exportedAt: now,
  }
  await write(JSON.stringify(header))
  let entries = 0
  for await (const entry of dump(now)) {
    await write(JSON.stringify(entry))
    entries++
  }
  await write(JSON.stringify({ kind: 'end', entries }))
  return { entries }
}

/**
 * Imports a dump: a first pass over `read()` checks every line, a second writes them in batches,
 * so that a bad line leaves the store untouched. Entries that expired since the export are skipped.
 * @throws {DumpInvalid} naming the first bad line. {@link DumpKeyMismatch}, {@link ImportTargetNotEmpty}.
 *   {@link ImportIncomplete} when the store fails after writing began.
 */
export async function importState(
  backend: StoreBackend,
  masterKey: Uint8Array,
  now: () => number,
  read: () => AsyncIterable<string>,
  options: ImportOptions = {},
): Promise<DumpSummary> {
  const { dump, load } = dumpOf(backend)
  await validate(read(), masterKey)
  if (!options.merge) {
    const held = await heldKinds(dump(now()))
    if (held) {
      throw new ImportTargetNotEmpty(
        `the target store already holds ${held}: import into an empty one, ` +
          'or merge into it (--merge), which keeps what is there',
      )
    }
  }
  let batch: DumpEntry[] = []
  let entries = 0
  let line = 0
  // The last line of the batches written, and of the batch being gathered.
  let written = 1
  let last = 1
  const flush = async () => {
    try {
      await load(batch)
    } catch (err) {
      throw incomplete(written, last, err)
    }
    entries += batch.length
    written = last
    batch = []
  }
  for await (const text of read()) {
    if (++line === 1) continue
    const entry = JSON.parse(text) as DumpEntry | { kind: 'end' }
    if (entry.kind === 'end') break
    if (entry.kind !== 'log' && entry.expiresAt !== null && entry.expiresAt <= now()) continue
    batch.push(entry)
    last = line
    if (batch.length === BATCH) await flush()
  }
  if (batch.length > 0) await flush()
  return { entries }
}

/** The error of a batch that failed, lines `written + 1` to `last`, after lines 2 to `written` went in. */
function incomplete(written: number, last: number, cause: unknown): ImportIncomplete {
  const failed = `${written + 1}–${last}`
  const held =
    written > 1
      ? `the target now holds part of the dump (lines 2–${written} written, lines ${failed} perhaps in part)`
      : `the target may now hold part of the dump (lines ${failed} perhaps in part)`
  return new ImportIncomplete(`${held}: fix the cause, then run the same import with --merge`, { cause })
}

/** What a gateway keeps, by key form (`_internal/keys.ts`), in the order an import names them. */
const KINDS: [name: string, form: RegExp][] = [
  ['applications', /^(app:|apps$|app-name[:\n]|k:)/],
  ['signing keys', /^(gk:|signing-keys$)/],
  ['settings', /^set:/],
  ['streams', /^stream(s$|:|-)/],
  ['sessions', /^a:[^:]+:(s|i[sue]):/],
  ['revocation markers', /^a:[^:]+:[tw]:/],
  ['relay deliveries', /^(a:[^:]+:o:|relay-pending$|log:relay:)/],
  ['console sessions', /^cs:/],
  ['audit entries', /^log:/],
]

/** Entries of the target looked at to name what it holds: enough to see what a started gateway wrote. */
const LOOKED_AT = 1000

/**
 * What the store whose dump this is holds, named by kind from its first {@link LOOKED_AT} entries
 * (e.g. `signing keys and settings`), or `undefined` when it holds nothing.
 */
async function heldKinds(entries: AsyncIterable<DumpEntry>): Promise<string | undefined> {
  const found = new Set<string>()
  let seen = 0
  for await (const entry of entries) {
    const key = keyOf(entry)
    found.add(KINDS.find(([, form]) => form.test(key))?.[0] ?? (entry.kind === 'claim' ? 'claims' : 'other records'))
    if (++seen === LOOKED_AT) break
  }
  if (found.size === 0) return undefined
  const names = [...KINDS.map(([name]) => name), 'claims', 'other records'].filter((name) => found.has(name))
  const listed = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`
  return seen === LOOKED_AT ? `${listed}, among others` : listed
}

/** Checks the header, every entry and the end line; throws at the first bad one. */
async function validate(lines: AsyncIterable<string>, masterKey: Uint8Array): Promise<void> {
  let line = 0
  let ended: number | undefined
  for await (const text of lines) {
    line++
    const bad = (why: string) => new DumpInvalid(`line ${line} of the dump ${why}`)
    if (ended !== undefined) throw bad('follows its end line')
    if (Buffer.byteLength(text) > MAX_LINE_BYTES)
      throw bad(`is longer than ${MAX_LINE_BYTES / 2 ** 20} MiB: it is no entry of a dump`)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw bad('is not JSON: the dump is damaged or cut short')
    }
    if (line === 1) {
      checkHeader(value, masterKey, bad)
      continue
    }
    const problem = entryProblem(value) ?? kindProblem(value as DumpEntry)
    if (problem === 'end') {
      const { entries } = value as { entries: unknown }
      if (entries !== line - 2) throw bad(`says ${String(entries)} entries, but ${line - 2} precede it`)
      ended = line
    } else if (problem) {
      throw bad(problem)
    }
  }
  if (line === 0) throw new DumpInvalid('the dump is empty')
  if (ended === undefined)
    throw new DumpInvalid(`the dump stops after line ${line}, without its end line: it is cut short`)
}

function checkHeader(value: unknown, masterKey: Uint8Array, bad: (why: string) => DumpInvalid): void {
  const header = value as Partial<Header> | null
  if (header?.backchannel !== 'dump') throw bad('is not the header of a backchannel dump')
  if (header.format !== DUMP_FORMAT) {
    throw bad(`is a dump of format ${String(header.format)}: this version reads format ${DUMP_FORMAT}`)
  }
  if (header.key !== keyFingerprint(masterKey)) {
    throw new DumpKeyMismatch(
      `this dump was made with another BACKCHANNEL_MASTER_KEY: its fingerprint is ${String(header.key)}, ` +
        `this store's is ${keyFingerprint(masterKey)}. Import it with the key it was made with: ` +
        'its application secrets are sealed under that key.',
    )
  }
}

const isString = (v: unknown): v is string => typeof v === 'string'
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isJson = (v: unknown): boolean => {
  if (!isString(v)) return false
  try {
    JSON.parse(v)
    return true
  } catch {
    return false
  }
}

/** The key an entry is stored at: a member's set's, a log entry's log's. */
const keyOf = (entry: DumpEntry) => (entry.kind === 'member' ? entry.set : entry.kind === 'log' ? entry.log : entry.key)

/** What {@link keyKind} calls each kind of entry's key. */
const KEY_KINDS = { record: 'record', member: 'set', claim: 'claim', log: 'log' } as const

/**
 * Why an entry's key does not fit its kind (Redis tells a key's kind by its form alone: a record
 * at a claim's key would be read back as a claim), or `undefined` when it fits.
 */
function kindProblem(entry: DumpEntry): string | undefined {
  const key = keyOf(entry)
  const kind = keyKind(key)
  return kind === KEY_KINDS[entry.kind] ? undefined : `is a ${entry.kind} at ${JSON.stringify(key)}, a ${kind}'s key`
}

/** Why `value` is not an entry (`'end'` for the end line), or `undefined` when it is one. */
function entryProblem(value: unknown): string | undefined {
  const entry = (value ?? {}) as Record<string, unknown>
  const fields = (names: string[]) => Object.keys(entry).length === names.length + 1 && names.every((n) => n in entry)
  switch (entry.kind) {
    case 'record':
      return fields(['key', 'value', 'expiresAt']) &&
        isString(entry.key) &&
        isJson(entry.value) &&
        (entry.expiresAt === null || isTime(entry.expiresAt))
        ? undefined
        : 'is not a valid record'
    case 'member':
      return fields(['set', 'member', 'expiresAt']) &&
        isString(entry.set) &&
        isString(entry.member) &&
        isTime(entry.expiresAt)
        ? undefined
        : 'is not a valid index member'
    case 'claim':
      return fields(['key', 'expiresAt']) && isString(entry.key) && isTime(entry.expiresAt)
        ? undefined
        : 'is not a valid claim'
    case 'log':
      return fields(['log', 'id', 'entry']) && isString(entry.log) && isString(entry.id) && isJson(entry.entry)
        ? undefined
        : 'is not a valid audit entry'
    case 'end':
      return 'end'
    default:
      return `is not an entry (kind ${JSON.stringify(entry.kind)})`
  }
}
