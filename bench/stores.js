// node bench/stores.js: the stores alone, through their public API, in a process of their own (so
// the load run's tokens are not in the heap measured). For each store, a user with 10,000 sessions
// is revoked with 1,000 and with 200,000 other sessions present (mean of 10 revocations after one
// warm-up); with 200,000 others it also reads the heap per session of the in-process stores (after
// full collections), Redis' used_memory and PostgreSQL's table and index bytes per session.
// REDIS_URL, POSTGRES_URL: a redis-server and a PostgreSQL database to use (run.js passes its own;
// a store without one is left out). Prints one JSON object; run.js makes the tables.
// BENCH_SMOKE=1: a user with 1,000 sessions, 5,000 others.

import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { fsStore } from '@backchannel/unstorage/fs'
import { memoryStore } from '@backchannel/unstorage/memory'
import { postgresStore } from '@backchannel/unstorage/postgres'
import { redisStore } from '@backchannel/unstorage/redis'
import { Redis } from 'ioredis'

// V8's gc() without asking for --expose-gc on the command line.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')
const SMOKE = process.env.BENCH_SMOKE === '1'
const USER_SESSIONS = SMOKE ? 1_000 : 10_000
const OTHERS = [1_000, SMOKE ? 5_000 : 200_000]
const ITERATIONS = SMOKE ? 2 : 10
const { REDIS_URL, POSTGRES_URL } = process.env
const masterKey = randomBytes(32)
const app = 'bench'
const iss = 'https://id.example.com'
const dirs = []

const raw = REDIS_URL && new Redis(REDIS_URL)
const psql = (sql) => promisify(execFile)('psql', [POSTGRES_URL, '-Atqc', sql]).then((r) => r.stdout.trim())
// Each fill of PostgreSQL in a schema of its own: the fill before it is left as it was.
let schemas = 0

/**
 * The stores measured: `inProcess` ones hold their state in this process's heap; `server()` reads
 * the bytes a server holds for the store; `empty()` runs before each fill.
 */
const stores = [
  { name: 'memory', inProcess: true, open: async () => memoryStore({ masterKey }) },
  {
    name: 'fs',
    inProcess: true,
    open: async () => {
      dirs.push(await mkdtemp(join(tmpdir(), 'bench-store-')))
      return fsStore({ base: dirs.at(-1), masterKey })
    },
  },
  ...(REDIS_URL
    ? [
        {
          name: 'Redis',
          open: async () => redisStore({ url: REDIS_URL, masterKey }),
          empty: () => raw.flushall(),
          server: async () => Number(/used_memory:(\d+)/.exec(await raw.info('memory'))[1]),
        },
      ]
    : []),
  ...(POSTGRES_URL
    ? [
        {
          name: 'PostgreSQL',
          open: async () => postgresStore({ url: POSTGRES_URL, masterKey, schema: `bench_${++schemas}` }),
          // Tables with their indexes and TOAST, of the schema filled last.
          server: async () =>
            Number(
              await psql(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench_${schemas}' AND c.relkind = 'r'`),
            ),
        },
      ]
    : []),
]

/** Bytes of heap in use after full collections. */
const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** The busy user's sessions, then `others` sessions of other users (1 to 3 each), 1,000 at a time. */
async function fill(store, others) {
  const jobs = [
    ...Array.from({ length: USER_SESSIONS }, (_, i) => ({ sessionId: `busy-${i}`, sub: 'busy', sid: `b${i}` })),
    ...Array.from({ length: others }, (_, i) => ({
      sessionId: `o-${i}`,
      sub: `user-${i % (others / 2)}`,
      sid: `o${i}`,
    })),
  ]
  for (let i = 0; i < jobs.length; i += 1000)
    await Promise.all(jobs.slice(i, i + 1000).map((s) => store.register({ app, iss, ...s })))
}

/** Mean ms of revoking the busy user, after one warm-up revocation. */
async function revokeMs(store) {
  const revoke = () => store.revoke({ app, iss, sub: 'busy', scope: 'session', issuedAt: Date.now() / 1000 })
  await revoke()
  const t0 = performance.now()
  for (let i = 0; i < ITERATIONS; i++) await revoke()
  return (performance.now() - t0) / ITERATIONS
}

const result = {
  userSessions: USER_SESSIONS,
  sessions: USER_SESSIONS + OTHERS[1],
  heapPerSession: {},
  serverPerSession: {},
  revoke: [],
}
for (const { name, inProcess, open, empty, server } of stores) {
  const row = { store: name }
  for (const others of OTHERS) {
    await empty?.()
    const heapBefore = inProcess && heapUsed()
    const store = await open()
    const serverBefore = server && (await server())
    await fill(store, others)
    if (others === OTHERS[1]) {
      if (inProcess) result.heapPerSession[name] = (heapUsed() - heapBefore) / result.sessions
      if (server) result.serverPerSession[name] = ((await server()) - serverBefore) / result.sessions
    }
    row[others === OTHERS[0] ? 'few' : 'many'] = await revokeMs(store)
    await store.close()
  }
  result.revoke.push(row)
}
result.others = OTHERS
await raw?.flushall()
raw?.disconnect()
for (const dir of dirs) await rm(dir, { recursive: true, force: true })
console.log(JSON.stringify(result))
