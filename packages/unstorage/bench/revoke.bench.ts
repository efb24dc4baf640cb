/**
 * Does revoking one user cost the same however many other sessions exist? A user with 10,000
 * sessions is revoked with 1,000 and with 200,000 other sessions in the store, on the memory
 * preset and on a real redis-server, in one run. Also prints Redis memory per session.
 * `BENCH_OTHERS=20000 pnpm bench` runs a smaller version (CI's smoke run).
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { bench, describe, inject } from 'vitest'
import type { BackchannelStore } from '../src/index.js'
import { memoryStore } from '../src/presets/memory.js'
import { redisStore } from '../src/presets/redis.js'

const USER_SESSIONS = 10_000
const FEW = 1_000
const MANY = Number(process.env.BENCH_OTHERS ?? 200_000)
const iss = 'https://id.example.com'
const masterKey = randomBytes(32)
const options = { iterations: 10, time: 0, warmupIterations: 1, warmupTime: 0 }

async function fill(store: BackchannelStore, others: number) {
  const jobs: (() => Promise<unknown>)[] = []
  for (let i = 0; i < USER_SESSIONS; i++) {
    jobs.push(() => store.register({ app: 'bench', iss, sessionId: `busy-${i}`, sub: 'busy', sid: `b${i}` }))
  }
  for (let i = 0; i < others; i++) {
    // Other users with 1 to 3 sessions each.
    jobs.push(() =>
      store.register({ app: 'bench', iss, sessionId: `o-${i}`, sub: `user-${i % (others / 2)}`, sid: `o${i}` }),
    )
  }
  for (let i = 0; i < jobs.length; i += 1000) await Promise.all(jobs.slice(i, i + 1000).map((job) => job()))
}

const revokeBusy = (store: BackchannelStore) => async () => {
  await store.revoke({ app: 'bench', iss, sub: 'busy', scope: 'session', issuedAt: Date.now() / 1000 })
}

// vitest runs no hooks in bench mode: stores are filled at module load, before the benches run.
const memoryFew = memoryStore({ masterKey })
const memoryMany = memoryStore({ masterKey })
await Promise.all([fill(memoryFew, FEW), fill(memoryMany, MANY)])

describe('revoke a user with 10,000 sessions: memory', () => {
  bench(`memory, ${FEW.toLocaleString('en')} other sessions`, revokeBusy(memoryFew), options)
  bench(`memory, ${MANY.toLocaleString('en')} other sessions`, revokeBusy(memoryMany), options)
})

// The redis-server of the project's global setup (test/setup/services.ts), which also stops it.
const redisUrl = inject('redisUrl')
let redisFew: BackchannelStore | undefined
let redisMany: BackchannelStore | undefined
if (redisUrl) {
  const raw = new Redis(redisUrl)
  await raw.flushall()
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1])
  const before = await usedMemory()
  redisMany = redisStore({ url: redisUrl, masterKey, base: 'many' })
  await fill(redisMany, MANY)
  const perSession = ((await usedMemory()) - before) / (MANY + USER_SESSIONS)
  console.log(
    `Redis memory per registered session (record + sid and sub index entries): ${Math.round(perSession)} bytes`,
  )
  redisFew = redisStore({ url: redisUrl, masterKey, base: 'few' })
  await fill(redisFew, FEW)
  raw.disconnect()
}

describe.skipIf(!redisUrl)('revoke a user with 10,000 sessions: Redis', () => {
  bench(`redis, ${FEW.toLocaleString('en')} other sessions`, () => revokeBusy(redisFew as BackchannelStore)(), options)
  bench(
    `redis, ${MANY.toLocaleString('en')} other sessions`,
    () => revokeBusy(redisMany as BackchannelStore)(),
    options,
  )
})
