/**
 * `@backchannel/unstorage/postgres`: shared storage on PostgreSQL (13 or later), through the
 * `postgres` client (porsager).
 *
 * Records go through an unstorage driver defined here, over the preset's own table: unstorage's
 * SQL drivers (db0) would need a second client and keep no expiry. Everything lives in one schema
 * (default `backchannel`), created or migrated at start in one transaction and versioned in
 * `backchannel_schema`:
 *
 *   records (key, value, expires_at)       sessions, markers, apps, settings (JSON text)
 *   claims  (key, until, expires_at)       replay claims: one winner by INSERT … ON CONFLICT
 *   members (set_key, member, expires_at)  index sets: a user's or a sid's sessions
 *   audit   (log, id, entry)               audit logs, capped per log
 *
 * Keys are `COLLATE "C"` so a prefix is an index range. Every row carries `expires_at` (the
 * server's clock; `infinity` for records written without a ttl: apps and settings): reads ignore
 * expired rows and a timer deletes them.
 *
 * @example
 * ```ts
 * import { postgresStore } from '@backchannel/unstorage/postgres'
 * const store = await postgresStore({ url: 'postgres://backchannel@127.0.0.1:5432/app', masterKey })
 * ```
 * @module
 */
import { errors } from '@backchannel/core'
import postgres, { type Options, type Sql, type TransactionSql } from 'postgres'
import { createStorage, defineDriver } from 'unstorage'
import { startSweeper } from '../_internal/sweeper.js'
import { type DumpEntry, type RecordWrite, type StoreBackend, ttlSeconds } from '../backend.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions extends StoreOptions {
  /** `postgres://[user:password@]host:port/database` (or `postgresql://…`). */
  url: string
  /** The schema holding the tables; created when missing. Default `backchannel`. */
  schema?: string
  /** Seconds between two sweeps of expired rows. Default 60. */
  sweepSeconds?: number
  /** Extra options of the `postgres` client. */
  postgres?: Options<Record<string, never>>
}

/** The schema version this code writes; a database at a newer one is refused. */
const VERSION = 1

type Tables = ReturnType<typeof tablesOf>
const tablesOf = (sql: Sql, schema: string) => ({
  schema: sql(schema),
  version: sql(`${schema}.backchannel_schema`),
  records: sql(`${schema}.records`),
  claims: sql(`${schema}.claims`),
  members: sql(`${schema}.members`),
  audit: sql(`${schema}.audit`),
})

/** Each step takes the schema from the version before it to the next; append, never edit. */
const MIGRATIONS: ((tx: TransactionSql, t: Tables) => Promise<unknown>)[] = [
  async (tx, t) => {
    await tx`CREATE TABLE ${t.records} (
      key text COLLATE "C" PRIMARY KEY, value text NOT NULL, expires_at timestamptz NOT NULL)`
    await tx`CREATE TABLE ${t.claims} (
      key text COLLATE "C" PRIMARY KEY, until float8 NOT NULL, expires_at timestamptz NOT NULL)`
    // The primary key serves a logout: one set's members, nothing else read.
    await tx`CREATE TABLE ${t.members} (
      set_key text COLLATE "C", member text COLLATE "C", expires_at timestamptz NOT NULL,
      PRIMARY KEY (set_key, member))`
    await tx`CREATE TABLE ${t.audit} (
      log text COLLATE "C", id text COLLATE "C", entry text NOT NULL, PRIMARY KEY (log, id))`
    for (const table of ['records', 'claims', 'members'] as const) {
      await tx`CREATE INDEX ${tx(`${table}_expires_at`)} ON ${t[table]} (expires_at)`
    }
  },
]

/** Creates or migrates the schema, in one transaction; concurrent starts wait for each other. */
async function migrate(sql: Sql, schema: string, t: Tables): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`backchannel ${schema}`}))`
    const [exists] = await tx`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`
    if (!exists) await tx`CREATE SCHEMA ${t.schema}`
    await tx`CREATE TABLE IF NOT EXISTS ${t.version} (version int NOT NULL)`
    const [row] = await tx<{ version: number }[]>`SELECT version FROM ${t.version}`
    const from = row?.version ?? 0
    if (from > VERSION) {
      throw new errors.StoreUnavailable(
        `the PostgreSQL schema ${schema} is at version ${from}: this gateway knows ${VERSION}`,
      )
    }
    for (const step of MIGRATIONS.slice(from)) await step(tx, t)
    if (row) await tx`UPDATE ${t.version} SET version = ${VERSION}`
    else await tx`INSERT INTO ${t.version} (version) VALUES (${VERSION})`
  })
}

/** The index range of keys under a prefix (`a:x` → keys from `a:x:` up to, not including, `a:x;`). */
const range = (prefix = '') => {
  const base = prefix.replace(/:$/, '')
  return base ? { from: `${base}:`, to: `${base};` } : { from: '', to: '\u{10FFFF}' }
}
const parse = (value: string | null | undefined): unknown => (value ? JSON.parse(value) : null)

/** The records to write as three parallel arrays for `unnest`, the last write of a key kept. */
function columns(entries: RecordWrite[], now: number) {
  const byKey = new Map(entries.map((entry) => [entry.key, entry]))
  const keys: string[] = []
  const values: string[] = []
  const ttls: number[] = []
  for (const { key, value, expiresAt } of byKey.values()) {
    keys.push(key)
    values.push(JSON.stringify(value))
    ttls.push(ttlSeconds(expiresAt, now))
  }
  return { keys, values, ttls }
}

/** `entries` with one per key (by `keyOf`): the one with the later expiry (`null`: none) kept. */
function latest<E extends { expiresAt: number | null }>(entries: E[], keyOf: (entry: E) => string): E[] {
  const byKey = new Map<string, E>()
  const until = (entry: E) => entry.expiresAt ?? Number.POSITIVE_INFINITY
  for (const entry of entries) {
    const key = keyOf(entry)
    const kept = byKey.get(key)
    if (kept === undefined || until(entry) > until(kept)) byKey.set(key, entry)
  }
  return [...byKey.values()]
}

/**
 * A store on PostgreSQL (13 or later); connects, creates or migrates its schema, then returns.
 * Expired rows are swept every `sweepSeconds` by a timer that {@link BackchannelStore.close} stops.
 */
export async function postgresStore(options: PostgresStoreOptions): Promise<BackchannelStore> {
  const schema = options.schema ?? 'backchannel'
  const sql = postgres(options.url, {
    // Fail fast while the server is down (the gateway answers 503); the pool reconnects by itself.
    connect_timeout: 5,
    onnotice: () => {},
    ...options.postgres,
  })
  const t = tablesOf(sql, schema)
  try {
    await migrate(sql, schema, t)
  } catch (err) {
    await sql.end({ timeout: 1 })
    if (err instanceof errors.StoreUnavailable) throw err
    throw new errors.StoreUnavailable(`could not prepare the PostgreSQL schema ${schema}`, { cause: err })
  }

  const driver = defineDriver(() => ({
    name: 'backchannel-postgres',
    getInstance: () => sql,
    async hasItem(key) {
      return (await sql`SELECT 1 FROM ${t.records} WHERE key = ${key} AND expires_at > now()`).length > 0
    },
    async getItem(key) {
      const [row] = await sql`SELECT value FROM ${t.records} WHERE key = ${key} AND expires_at > now()`
      return row?.value ?? null
    },
    async getItems(items) {
      const values = await backendGet(items.map((i) => i.key))
      return items.map(({ key }, i) => ({ key, value: values[i] ?? null }))
    },
    async setItem(key, value, opts) {
      const ttl = (opts as { ttl?: number } | undefined)?.ttl ?? null
      await sql`INSERT INTO ${t.records} (key, value, expires_at)
        VALUES (${key}, ${value}, coalesce(now() + ${ttl}::float8 * interval '1 second', 'infinity'))
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`
    },
    async removeItem(key) {
      await sql`DELETE FROM ${t.records} WHERE key = ${key}`
    },
    async getKeys(base) {
      const { from, to } = range(base)
      const rows = await sql`SELECT key FROM ${t.records}
        WHERE key >= ${from} AND key < ${to} AND expires_at > now() ORDER BY key`
      return rows.map((r) => r.key as string)
    },
    async clear(base) {
      const { from, to } = range(base)
      await sql`DELETE FROM ${t.records} WHERE key >= ${from} AND key < ${to}`
    },
  }))
  const storage = createStorage({ driver: driver(undefined) })

  /** The raw JSON text at each key, `null` where there is none. */
  async function backendGet(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return []
    const rows = await sql`SELECT key, value FROM ${t.records} WHERE key = ANY(${keys}::text[]) AND expires_at > now()`
    const byKey = new Map(rows.map((r) => [r.key as string, r.value as string]))
    return keys.map((key) => byKey.get(key) ?? null)
  }

  // The claim and the records in one statement: the records are written only if the claim was
  // won (a row in `claimed`), and a failure keeps neither. The claim is taken when free, or when
  // the one holding it has passed by the caller's clock or by the server's.
  const claimAndSetMany: NonNullable<StoreBackend['claimAndSetMany']> = async (claim, entries, now) => {
    const { keys, values, ttls } = columns(entries, now)
    const rows = await sql`WITH claimed AS (
        INSERT INTO ${t.claims} AS c (key, until, expires_at)
        VALUES (${claim.key}, ${claim.expiresAt}::float8,
          now() + ${ttlSeconds(claim.expiresAt, now)}::float8 * interval '1 second')
        ON CONFLICT (key) DO UPDATE SET until = excluded.until, expires_at = excluded.expires_at
        WHERE c.until <= ${now}::float8 OR c.expires_at <= now()
        RETURNING 1
      ), written AS (
        INSERT INTO ${t.records} (key, value, expires_at)
        SELECT k, v, now() + s * interval '1 second'
        FROM unnest(${keys}::text[], ${values}::text[], ${ttls}::float8[]) AS w(k, v, s)
        WHERE EXISTS (SELECT 1 FROM claimed)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
      )
      SELECT 1 FROM claimed`
    return rows.length === 1
  }

  const sweep = async () => {
    await sql`WITH r AS (DELETE FROM ${t.records} WHERE expires_at <= now()),
      c AS (DELETE FROM ${t.claims} WHERE expires_at <= now())
      DELETE FROM ${t.members} WHERE expires_at <= now()`
  }
  const sweeper = startSweeper(sweep, options.sweepSeconds ?? 60)

  const backend: StoreBackend = {
    storage,

    claim: (key, expiresAt, now) => claimAndSetMany({ key, expiresAt }, [], now),
    claimAndSetMany,

    async release(key) {
      await sql`DELETE FROM ${t.claims} WHERE key = ${key}`
    },

    async addMember(set, member, expiresAt) {
      const ttl = ttlSeconds(expiresAt, Date.now() / 1000)
      // Never shortened: a longer-lived member keeps the set's entry for it longer.
      await sql`INSERT INTO ${t.members} AS m (set_key, member, expires_at)
        VALUES (${set}, ${member}, now() + ${ttl}::float8 * interval '1 second')
        ON CONFLICT (set_key, member) DO UPDATE SET expires_at = greatest(m.expires_at, excluded.expires_at)`
    },

    async members(set) {
      const rows = await sql`SELECT member FROM ${t.members} WHERE set_key = ${set} AND expires_at > now()`
      return rows.map((r) => r.member as string)
    },

    async readIndex(set, prefix, also = []) {
      // The set's members, then their records and those `also` names: one round trip. The records
      // are read by one index scan over an array of keys, not joined: the planner sizes such an
      // array at a few keys whatever the statistics, so a large set's read never becomes a hash join
      // over all records, nor a per-member probe estimated costly enough to be JIT-compiled each call.
      const rows = await sql`WITH m AS MATERIALIZED (
          SELECT member FROM ${t.members} WHERE set_key = ${set} AND expires_at > now())
        SELECT member AS key, NULL AS value FROM m
        UNION ALL
        SELECT key, value FROM ${t.records}
        WHERE key = ANY(ARRAY(SELECT ${prefix} || member FROM m) || ${also}::text[]) AND expires_at > now()`
      // A member's row has no value: a record's is never NULL.
      const members: string[] = []
      const found = new Map<string, string>()
      for (const row of rows) {
        if (row.value === null) members.push(row.key)
        else found.set(row.key, row.value)
      }
      return {
        members: members.map((member) => ({ member, value: parse(found.get(prefix + member)) })),
        also: also.map((key) => parse(found.get(key))),
      }
    },

    async removeMembers(set, list) {
      if (list.length === 0) return
      await sql`DELETE FROM ${t.members} WHERE set_key = ${set} AND member = ANY(${list}::text[])`
    },

    getMany: async (keys) => (await backendGet(keys)).map(parse),

    async setMany(entries, now) {
      if (entries.length === 0) return
      const { keys, values, ttls } = columns(entries, now)
      // One statement: all the records or none.
      await sql`INSERT INTO ${t.records} (key, value, expires_at)
        SELECT k, v, now() + s * interval '1 second'
        FROM unnest(${keys}::text[], ${values}::text[], ${ttls}::float8[]) AS w(k, v, s)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`
    },

    async append(entries, maxEntries) {
      // One statement. It cannot see its own inserts, so it first finds each log's oldest id to
      // keep, among the rows there and the new ones, then inserts only the new ones from that id
      // on and deletes the older rows there. Two instances appending at once may each keep a few
      // extra until the next append.
      await sql`WITH new AS (
          SELECT * FROM unnest(${entries.map((e) => e.log)}::text[], ${entries.map((e) => e.id)}::text[],
            ${entries.map((e) => e.entry)}::text[]) AS n(log, id, entry)
        ), cut AS (
          SELECT l.log, (SELECT id FROM (
              (SELECT id FROM ${t.audit} a WHERE a.log = l.log ORDER BY id DESC LIMIT ${maxEntries})
              UNION ALL SELECT id FROM new WHERE new.log = l.log
            ) ids ORDER BY id DESC OFFSET ${maxEntries - 1} LIMIT 1) AS oldest
          FROM (SELECT DISTINCT log FROM new) l
        ), inserted AS (
          INSERT INTO ${t.audit} (log, id, entry)
          SELECT new.log, new.id, new.entry FROM new JOIN cut USING (log)
          WHERE cut.oldest IS NULL OR new.id >= cut.oldest
          ON CONFLICT DO NOTHING
        )
        DELETE FROM ${t.audit} a USING cut WHERE a.log = cut.log AND a.id < cut.oldest`
    },

    async read(log, limit, before) {
      const rows = await sql`SELECT entry FROM ${t.audit}
        WHERE log = ${log} ${before === undefined ? sql`` : sql`AND id < ${before}`}
        ORDER BY id DESC LIMIT ${limit}`
      return rows.map((r) => r.entry as string)
    },

    async removePrefix(prefix) {
      const { from, to } = range(prefix)
      await sql`WITH r AS (DELETE FROM ${t.records} WHERE key >= ${from} AND key < ${to}),
        c AS (DELETE FROM ${t.claims} WHERE key >= ${from} AND key < ${to})
        DELETE FROM ${t.members} WHERE set_key >= ${from} AND set_key < ${to}`
    },

    async *dump(now) {
      // Expiries as epoch seconds to the millisecond (`infinity` reads as null): a float8 holds
      // no exact microsecond a century ahead, so the same dump would not load back the same.
      // Cursors, a thousand rows at a time.
      const epoch = sql`round(extract(epoch from expires_at) * 1000)::float8 / 1000`
      const live = sql`expires_at > to_timestamp(${now})`
      const rows = <T>(query: ReturnType<typeof sql>) => query.cursor(1000) as unknown as AsyncIterable<T[]>
      for await (const batch of rows<{
        key: string
        value: string
        until: number | null
      }>(sql`SELECT key, value, CASE WHEN expires_at = 'infinity' THEN NULL ELSE ${epoch} END
          AS until FROM ${t.records} WHERE ${live}`)) {
        for (const r of batch) yield { kind: 'record', key: r.key, value: r.value, expiresAt: r.until }
      }
      for await (const batch of rows<{ key: string; until: number }>(
        sql`SELECT key, until FROM ${t.claims} WHERE until > ${now}::float8 AND ${live}`,
      )) {
        for (const r of batch) yield { kind: 'claim', key: r.key, expiresAt: r.until }
      }
      for await (const batch of rows<{ set_key: string; member: string; until: number }>(
        sql`SELECT set_key, member, ${epoch} AS until FROM ${t.members} WHERE ${live}`,
      )) {
        for (const r of batch) yield { kind: 'member', set: r.set_key, member: r.member, expiresAt: r.until }
      }
      for await (const batch of rows<{ log: string; id: string; entry: string }>(
        sql`SELECT log, id, entry FROM ${t.audit} ORDER BY log, id`,
      )) {
        for (const r of batch) yield { kind: 'log', log: r.log, id: r.id, entry: r.entry }
      }
    },

    async load(entries) {
      const of = <K extends DumpEntry['kind']>(kind: K) =>
        entries.filter((e): e is Extract<DumpEntry, { kind: K }> => e.kind === kind)
      // One row per key: an INSERT … ON CONFLICT DO UPDATE fails on a key it meets twice, and a
      // Redis SCAN may yield a key twice.
      const records = latest(of('record'), (e) => e.key)
      const claims = latest(of('claim'), (e) => e.key)
      const members = latest(of('member'), (e) => `${e.set}\n${e.member}`)
      const audit = of('log')
      // One transaction per batch; expiries go in as given, `infinity` where there is none.
      await sql.begin(async (tx) => {
        if (records.length > 0) {
          // A live record already there stays: it may be newer than the dump (a later logout).
          await tx`INSERT INTO ${t.records} AS r (key, value, expires_at)
            SELECT k, v, coalesce(to_timestamp(u), 'infinity')
            FROM unnest(${records.map((e) => e.key)}::text[], ${records.map((e) => e.value)}::text[],
              ${records.map((e) => e.expiresAt)}::float8[]) AS w(k, v, u)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
            WHERE r.expires_at <= now()`
        }
        if (claims.length > 0) {
          await tx`INSERT INTO ${t.claims} AS c (key, until, expires_at)
            SELECT k, u, to_timestamp(u) FROM unnest(${claims.map((e) => e.key)}::text[],
              ${claims.map((e) => e.expiresAt)}::float8[]) AS w(k, u)
            ON CONFLICT (key) DO UPDATE SET until = greatest(c.until, excluded.until),
              expires_at = greatest(c.expires_at, excluded.expires_at)`
        }
        if (members.length > 0) {
          await tx`INSERT INTO ${t.members} AS m (set_key, member, expires_at)
            SELECT s, n, to_timestamp(u) FROM unnest(${members.map((e) => e.set)}::text[],
              ${members.map((e) => e.member)}::text[], ${members.map((e) => e.expiresAt)}::float8[]) AS w(s, n, u)
            ON CONFLICT (set_key, member) DO UPDATE SET expires_at = greatest(m.expires_at, excluded.expires_at)`
        }
        if (audit.length > 0) {
          await tx`INSERT INTO ${t.audit} (log, id, entry)
            SELECT * FROM unnest(${audit.map((e) => e.log)}::text[], ${audit.map((e) => e.id)}::text[],
              ${audit.map((e) => e.entry)}::text[])
            ON CONFLICT DO NOTHING`
        }
      })
    },

    async ping() {
      await sql`SELECT 1`
    },

    async dispose() {
      await sweeper.stop()
      await sql.end({ timeout: 5 })
    },
  }
  return createStore(backend, options)
}
