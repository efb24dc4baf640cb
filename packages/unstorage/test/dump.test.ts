/**
 * Export and import (dump.ts) on every preset against its real server, and what an import refuses:
 * another master key, a damaged or cut-short dump, an unknown format, a target holding applications.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { createStorage } from 'unstorage'
import memoryDriver from 'unstorage/drivers/memory'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { keyKind } from '../src/_internal/keys.js'
import type { DumpEntry } from '../src/backend.js'
import { keyFingerprint } from '../src/dump.js'
import { type BackchannelStore, createStore } from '../src/index.js'
import { fsStore } from '../src/presets/fs.js'
import { memoryStore } from '../src/presets/memory.js'
import { mongodbStore } from '../src/presets/mongodb.js'
import { postgresStore } from '../src/presets/postgres.js'
import { redisStore } from '../src/presets/redis.js'
import {
  entriesOf,
  exportLines,
  fillState,
  itMergesOverExpired,
  itMergesWithoutUndoing,
  itRoundTrips,
  itTakesAKeyTwice,
  reading,
} from './dump-suite.js'

const masterKey = randomBytes(32)
let n = 0
const folders: string[] = []
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true })
})
const openFs = async (key = masterKey) => {
  const base = await mkdtemp(join(tmpdir(), 'backchannel-dump-'))
  folders.push(base)
  return fsStore({ base, masterKey: key })
}

/** Every preset (against its real server), and how to open an empty store of it. */
const redisUrl = inject('redisUrl')
const postgresUrl = inject('postgresUrl')
const mongoClient = inject('mongoKind') === 'mongodb' ? {} : { serverMonitoringMode: 'poll' as const }
const presets: [name: string, skip: boolean, open: () => Promise<BackchannelStore> | BackchannelStore][] = [
  ['memory preset', false, () => memoryStore({ masterKey })],
  ['fs preset', false, () => openFs()],
  [
    'any unstorage driver (memory)',
    false,
    () => createStore({ storage: createStorage({ driver: memoryDriver() }), masterKey }),
  ],
  [
    'Redis preset',
    !redisUrl,
    () => redisStore({ url: redisUrl as string, masterKey, base: `dump${Date.now()}_${++n}` }),
  ],
  [
    'PostgreSQL preset',
    !postgresUrl,
    () => postgresStore({ url: postgresUrl as string, masterKey, schema: `dump${++n}` }),
  ],
  [
    `MongoDB preset (${inject('mongoKind')})`,
    false,
    () =>
      mongodbStore({ url: inject('mongoUrl'), masterKey, client: mongoClient, database: `dump${Date.now()}_${++n}` }),
  ],
]
for (const [name, skip, open] of presets) {
  describe.skipIf(skip)(name, () => {
    itRoundTrips(open)
    itMergesWithoutUndoing(open)
    itTakesAKeyTwice(open)
    itMergesOverExpired(open)
    it('refuses to import into itself once full, having looked at the first entries only', async () => {
      const store = await open()
      try {
        const lines = claimsDump(1500)
        await store.importState(reading(lines))
        await expect(store.importState(reading(lines))).rejects.toThrow(
          /^the target store already holds claims, among others: import into an empty one/,
        )
      } finally {
        await store.close()
      }
    })
  })
}

/** A dump of `count` live claims under `key`, as lines. */
const claimsDump = (count: number, key = masterKey) => {
  const until = Date.now() / 1000 + 3600
  const header = { backchannel: 'dump', format: 1, key: keyFingerprint(key), exportedAt: Date.now() / 1000 }
  const claims = Array.from({ length: count }, (_, i) =>
    JSON.stringify({ kind: 'claim', key: `r:${i}`, expiresAt: until }),
  )
  return [JSON.stringify(header), ...claims, JSON.stringify({ kind: 'end', entries: count })]
}

describe.skipIf(!postgresUrl)('an import whose store fails midway (PostgreSQL)', () => {
  it('says which lines the target holds and how to finish, keeping the cause', async () => {
    const schema = `dump${++n}`
    const store = await postgresStore({ url: postgresUrl as string, masterKey, schema })
    const sql = postgres(postgresUrl as string, { onnotice: () => {} })
    const lines = claimsDump(2500)
    let pass = 0
    // The schema goes away while the second batch is read (the first pass only checks).
    const read = async function* () {
      pass++
      for (const [i, line] of lines.entries()) {
        if (pass === 2 && i === 1500) await sql`DROP SCHEMA ${sql(schema)} CASCADE`
        yield line
      }
    }
    try {
      const failed = store.importState(read)
      await expect(failed).rejects.toMatchObject({
        code: 'ERR_IMPORT_INCOMPLETE',
        message:
          'the target now holds part of the dump (lines 2–1001 written, lines 1002–2001 perhaps in part): ' +
          'fix the cause, then run the same import with --merge',
        cause: expect.objectContaining({ message: expect.stringContaining('does not exist') }),
      })
    } finally {
      await sql.end()
      await store.close()
    }
  })
})

it("refuses to export under a master key that does not open the store's secrets, writing nothing", async () => {
  const base = await mkdtemp(join(tmpdir(), 'backchannel-dump-'))
  folders.push(base)
  const store = await fsStore({ base, masterKey })
  await fillState(store)
  await store.close()
  const other = await fsStore({ base, masterKey: randomBytes(32) })
  const lines: string[] = []
  await expect(other.exportState((line) => lines.push(line))).rejects.toMatchObject({
    code: 'ERR_DUMP_KEY_MISMATCH',
    message: expect.stringMatching(/^BACKCHANNEL_MASTER_KEY does not open this store's secrets: /),
  })
  expect(lines).toEqual([])
  await other.close()
})

describe('an import refuses, writing nothing', () => {
  /** A dump of a filled fs store, and an empty fs store to import it into. */
  const setUp = async () => {
    const source = await openFs()
    await fillState(source)
    const lines = await exportLines(source)
    await source.close()
    return { lines, target: await openFs() }
  }
  const expectEmpty = async (target: BackchannelStore) => {
    expect(entriesOf(await exportLines(target))).toEqual([])
    await target.close()
  }

  it('a dump made under another master key, with a message that says so', async () => {
    const { lines } = await setUp()
    const other = await openFs(randomBytes(32))
    await expect(other.importState(reading(lines))).rejects.toMatchObject({
      code: 'ERR_DUMP_KEY_MISMATCH',
      message: expect.stringMatching(/^this dump was made with another BACKCHANNEL_MASTER_KEY: /),
    })
    await expectEmpty(other)
  })

  it('a garbled line, naming it, though every line before it is good', async () => {
    const { lines, target } = await setUp()
    const garbled = [...lines]
    garbled[5] = (garbled[5] as string).slice(0, 20)
    await expect(target.importState(reading(garbled))).rejects.toMatchObject({
      code: 'ERR_DUMP_INVALID',
      message: 'line 6 of the dump is not JSON: the dump is damaged or cut short',
    })
    const wrongShape = [...lines]
    wrongShape[3] = JSON.stringify({ kind: 'record', key: 'k', value: 'not json', expiresAt: null })
    await expect(target.importState(reading(wrongShape))).rejects.toThrow('line 4 of the dump is not a valid record')
    const wrongKind = [...lines]
    wrongKind[2] = JSON.stringify({ kind: 'record', key: 'r:0123', value: '{}', expiresAt: null })
    await expect(target.importState(reading(wrongKind))).rejects.toMatchObject({
      code: 'ERR_DUMP_INVALID',
      message: `line 3 of the dump is a record at "r:0123", a claim's key`,
    })
    wrongKind[2] = JSON.stringify({ kind: 'member', set: 'app:0123', member: 'x', expiresAt: Date.now() / 1000 + 60 })
    await expect(target.importState(reading(wrongKind))).rejects.toThrow(
      `line 3 of the dump is a member at "app:0123", a record's key`,
    )
    await expectEmpty(target)
  })

  it('a dump cut short at a line boundary, or whose count is off', async () => {
    const { lines, target } = await setUp()
    await expect(target.importState(reading(lines.slice(0, -3)))).rejects.toThrow(
      `the dump stops after line ${lines.length - 3}, without its end line: it is cut short`,
    )
    const dropped = [...lines.slice(0, 3), ...lines.slice(4)]
    await expect(target.importState(reading(dropped))).rejects.toThrow(/^line \d+ of the dump says \d+ entries/)
    await expectEmpty(target)
  })

  it('an unknown format, or something that is not a dump', async () => {
    const { lines, target } = await setUp()
    const header = JSON.parse(lines[0] as string) as Record<string, unknown>
    const future = [JSON.stringify({ ...header, format: 2 }), ...lines.slice(1)]
    await expect(target.importState(reading(future))).rejects.toThrow(
      'line 1 of the dump is a dump of format 2: this version reads format 1',
    )
    await expect(target.importState(reading(lines.slice(1)))).rejects.toThrow(
      'line 1 of the dump is not the header of a backchannel dump',
    )
    await expect(target.importState(reading([]))).rejects.toThrow('the dump is empty')
    await expectEmpty(target)
  })

  it('a target that already holds applications, unless merging', async () => {
    const { lines, target } = await setUp()
    await target.apps.create({
      kind: 'hmac',
      name: 'local',
      secrets: [{ key: randomBytes(32) }],
      apiKeyHash: 'ab'.repeat(32),
      createdAt: 1,
      updatedAt: 1,
    })
    await expect(target.importState(reading(lines))).rejects.toMatchObject({ code: 'ERR_IMPORT_TARGET_NOT_EMPTY' })
    expect(await target.apps.get('billing')).toBeUndefined()
    await target.importState(reading(lines), { merge: true })
    expect((await target.apps.list()).map((a) => a.name).sort()).toEqual(['billing', 'local', 'wiki'])
    await target.close()
  })

  it('a target a gateway has started on (its signing key, the admin token), naming what it holds', async () => {
    const { lines, target } = await setUp()
    const own = await target.keys.ensure()
    await target.settings.setIfAbsent('admin-token', 'hash-of-this-gateway-s-token')
    await expect(target.importState(reading(lines))).rejects.toMatchObject({
      code: 'ERR_IMPORT_TARGET_NOT_EMPTY',
      message:
        'the target store already holds signing keys, settings and claims: ' +
        'import into an empty one, or merge into it (--merge), which keeps what is there',
    })
    expect(await target.keys.list()).toEqual(own)
    await target.close()
  })
})

it('fingerprints a master key without revealing it: one key, one fingerprint', () => {
  const key = randomBytes(32)
  expect(keyFingerprint(key)).toBe(keyFingerprint(Buffer.from(key)))
  expect(keyFingerprint(key)).not.toBe(keyFingerprint(randomBytes(32)))
  expect(keyFingerprint(key)).toMatch(/^[\w-]{22}$/)
  expect(keyFingerprint(key)).not.toContain(key.toString('base64url').slice(0, 8))
})

it('tells every key the store writes by its form (Redis keeps all kinds in one key space)', async () => {
  const store = memoryStore({ masterKey })
  await fillState(store)
  const kinds = { record: 'record', claim: 'claim', member: 'set', log: 'log' } as const
  for (const line of entriesOf(await exportLines(store))) {
    const entry = JSON.parse(line) as DumpEntry
    const key = entry.kind === 'member' ? entry.set : entry.kind === 'log' ? entry.log : entry.key
    expect([key, keyKind(key)]).toEqual([key, kinds[entry.kind]])
  }
  await store.close()
})
