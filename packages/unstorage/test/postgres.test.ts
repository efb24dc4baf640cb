/** The PostgreSQL preset against a real PostgreSQL server (started by test/setup/services.ts). */
import { randomBytes } from 'node:crypto'
import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/vitest'
import postgres from 'postgres'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { startPostgres } from '../../../test/postgres-server.js'
import { type PostgresStoreOptions, postgresStore } from '../src/presets/postgres.js'
import { itTakesOnceAcrossInstances } from './outbox-suite.js'
import {
  describeStoreExtras,
  itClaimsOnceAcrossInstances,
  itKeepsNoSecretInClear,
  itMakesOneSigningKeyAcrossInstances,
  itRecoversFromAnOutage,
} from './store-suite.js'

const url = inject('postgresUrl')
if (!url) {
  console.warn(
    '\n⚠ SKIPPING the PostgreSQL tests: PostgreSQL is not installed. Install it (apt-get install -y postgresql) to run them.\n',
  )
}
const masterKey = randomBytes(32)
let n = 0
const raw = postgres(url ?? 'postgres://127.0.0.1:1/none', { onnotice: () => {} })
afterAll(() => raw.end())

// Each test gets its own schema, so tests never see each other's data.
const factory = async (clock: { now: () => number }, extra: Partial<PostgresStoreOptions> = {}) => {
  const store = await postgresStore({ url: url as string, masterKey, now: clock.now, schema: `t${++n}`, ...extra })
  return { store, cleanup: () => store.close() }
}

describe.skipIf(!url)('PostgreSQL preset', () => {
  describeSessionStore('postgres preset', factory)
  describeReplayStore('postgres preset', factory)
  describeStoreExtras('postgres preset', factory)

  itClaimsOnceAcrossInstances((schema) => postgresStore({ url: url as string, masterKey, schema }))
  itMakesOneSigningKeyAcrossInstances((schema) => postgresStore({ url: url as string, masterKey, schema }))
  itTakesOnceAcrossInstances((schema) => postgresStore({ url: url as string, masterKey, schema }))

  it('creates its schema on a fresh database, and starts again on it keeping the data', async () => {
    await raw`CREATE DATABASE fresh`
    const fresh = (url as string).replace(/\/postgres$/, '/fresh')
    const first = await postgresStore({ url: fresh, masterKey })
    await first.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u' })
    await first.close()
    // Two instances starting at once on the migrated database: neither trips over the other.
    const [again, other] = await Promise.all([1, 2].map(() => postgresStore({ url: fresh, masterKey })))
    try {
      expect(await again?.status('a', 's')).toEqual({ state: 'active' })
      const db = postgres(fresh, { onnotice: () => {} })
      expect(await db`SELECT version FROM backchannel.backchannel_schema`).toEqual([{ version: 1 }])
      await db.end()
    } finally {
      await again?.close()
      await other?.close()
    }
  })

  it('refuses a schema newer than it knows, with ERR_STORE_UNAVAILABLE', async () => {
    const schema = `newer${++n}`
    await (await postgresStore({ url: url as string, masterKey, schema })).close()
    await raw`UPDATE ${raw(`${schema}.backchannel_schema`)} SET version = 99`
    await expect(postgresStore({ url: url as string, masterKey, schema })).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
      message: expect.stringContaining('version 99'),
    })
  })

  itKeepsNoSecretInClear(
    (schema) => postgresStore({ url: url as string, masterKey, schema }),
    async (schema) => {
      const dump: string[] = []
      for (const table of ['records', 'claims', 'members', 'audit']) {
        for (const row of await raw`SELECT * FROM ${raw(`${schema}.${table}`)}`) dump.push(JSON.stringify(row))
      }
      return dump
    },
  )

  it('ignores expired rows on read and sweeps them', async () => {
    const schema = `sweep${++n}`
    const store = await postgresStore({ url: url as string, masterKey, schema, sweepSeconds: 0.2 })
    try {
      const { backend } = store
      const now = Date.now() / 1000
      await backend.storage.setItem('short', { n: 1 }, { ttl: 1 })
      await backend.storage.setItem('long', { n: 2 }, { ttl: 600 })
      await backend.addMember('set', 'm', now + 1)
      await store.claim('jti', now + 1)
      const count = async () =>
        Number(
          (
            await raw`SELECT (SELECT count(*) FROM ${raw(`${schema}.records`)})
              + (SELECT count(*) FROM ${raw(`${schema}.members`)})
              + (SELECT count(*) FROM ${raw(`${schema}.claims`)}) AS n`
          )[0]?.n,
        )
      expect(await count()).toBe(4)
      // Expired but not yet swept: reads already ignore them.
      await raw`UPDATE ${raw(`${schema}.records`)} SET expires_at = now() - interval '1 second' WHERE key = 'short'`
      expect(await backend.storage.getItem('short')).toBeNull()
      expect(await backend.getMany(['short', 'long'])).toEqual([null, { n: 2 }])
      await expect.poll(count, { timeout: 5_000 }).toBe(1)
      expect(await backend.storage.getKeys()).toEqual(['long'])
    } finally {
      await store.close()
    }
  })

  it("reads an index set's records in one index scan, however large the set and whatever ANALYZE saw", async () => {
    const schema = `plan${++n}`
    const statements: { query: string; params: unknown[] }[] = []
    const debug = (_: number, query: string, params: unknown[]) => statements.push({ query, params })
    const store = await postgresStore({ url: url as string, masterKey, schema, postgres: { debug } })
    try {
      const table = (name: string) => raw(`${schema}.${name}`)
      // A set of 2,000 members among 4,000 records, and the statistics saying so.
      await raw`INSERT INTO ${table('records')} SELECT 'p:' || i, '{}', now() + interval '1 hour'
        FROM generate_series(1, 4000) i`
      await raw`INSERT INTO ${table('members')} SELECT CASE WHEN i <= 2000 THEN 'big' ELSE 'one:' || i END,
        i::text, now() + interval '1 hour' FROM generate_series(1, 4000) i`
      await raw`ANALYZE ${table('records')}, ${table('members')}`
      statements.length = 0
      const read = await store.backend.readIndex('big', 'p:', ['p:4000'])
      expect(read.members).toHaveLength(2000)
      expect(read.members.every((m) => m.value !== null)).toBe(true)
      expect(read.also).toEqual([{}])

      // Its plan, as run: the records are scanned once by their index, not probed once per member
      // (nor read whole for a hash join).
      const [statement] = statements
      const [row] = await raw.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement?.query}`, statement?.params as never[])
      type Node = { 'Node Type': string; 'Relation Name'?: string; 'Actual Loops': number; Plans?: Node[] }
      const nodes = (node: Node): Node[] => [node, ...(node.Plans ?? []).flatMap(nodes)]
      const onRecords = nodes(row?.['QUERY PLAN'][0].Plan).filter((node) => node['Relation Name'] === 'records')
      expect(onRecords).not.toHaveLength(0)
      for (const node of onRecords) {
        expect([node['Node Type'], node['Actual Loops']]).toEqual([
          expect.stringMatching(/^(Bitmap Heap|Index) Scan$/),
          1,
        ])
      }
    } finally {
      await store.close()
    }
  })

  // The restarted server keeps its data folder: what was written before the outage is still there.
  itRecoversFromAnOutage(
    () => startPostgres({ settings: ['fsync=off'] }),
    (url) => postgresStore({ url, masterKey }),
  )

  it('answers ERR_STORE_UNAVAILABLE from the start when the server cannot be reached', async () => {
    await expect(postgresStore({ url: 'postgres://postgres@127.0.0.1:1/postgres', masterKey })).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    })
  })
})
