// node paced.js: what the parts of a logout that the gateway writes after answering — its log
// line and its audit record — cost when logouts come one at a time, as in run.js's paced period,
// rather than many per turn of the event loop as at full speed (parts.js). Each part runs at a
// steady BENCH_RATE a second (default 1,400, about half the gateway's maximum on the memory
// store) for 8 s, and this prints the CPU per operation over every thread (the writes run on
// libuv's thread pool), plus redis-server's for the Redis store, less what the same timer loop
// costs doing nothing. The audit record two ways: written at once, as admin actions record, and
// queued as the gateway queues a logout's (audit-queue.ts: records share a write). Medians of three
// rounds. Needs `pnpm build`. BENCH_SMOKE=1: one round of 1 s.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, loadConfig, openStore } from '@backchannel/server'
import { createAuditQueue } from '../packages/server/dist/audit-queue.js'
import { cpuOf, log, SMOKE, startRedis, storageEnv } from './lib.js'

const RATE = Number(process.env.BENCH_RATE ?? 1400)
const SECONDS = SMOKE ? 1 : 8
const ROUNDS = SMOKE ? 1 : 3
const dir = await mkdtemp(join(tmpdir(), 'bench-paced-'))
const redis = await startRedis().catch(() => log('redis-server not found: the Redis store is left out'))

/** CPU µs per call of `work(i)`, called RATE times a second for SECONDS, open loop, then `settle()`. */
async function paced(work, { pids = [], settle = async () => {} } = {}) {
  const total = RATE * SECONDS
  const before = await cpuOf(pids, { self: true })
  const start = performance.now()
  const pending = []
  let done = 0
  await new Promise((resolve) => {
    // Timers fire at best every millisecond: each tick makes every call whose moment has come.
    const tick = () => {
      for (const now = performance.now(); done < total && start + (done * 1000) / RATE <= now; done++)
        pending.push(work(done))
      if (done < total) setTimeout(tick, 1)
      else resolve()
    }
    tick()
  })
  await Promise.all(pending)
  await settle()
  return (((await cpuOf(pids, { self: true })) - before) * 1e6) / total
}

/** The median over ROUNDS of `part`'s CPU per call, less the timer loop's, in µs. */
async function median(part, options) {
  const runs = []
  for (let round = 0; round < ROUNDS; round++) {
    const cost = await part(round)
    runs.push(cost - (await paced(() => {}, options)))
  }
  return runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]
}

const rows = []
{
  const logger = createLogger('info', join(dir, 'gateway.log'))
  const line = { app: 'bench', status: 200, revoked: 1, ms: 0.8 }
  rows.push(['log line', await median(() => paced(() => logger.info(line, 'logout')))])
  logger.flush()
}
const stores = {
  memory: storageEnv('memory'),
  fs: storageEnv('fs', { folder: join(dir, 'data') }),
  ...(redis && { Redis: storageEnv('redis', { redisUrl: redis.url }) }),
}
for (const [name, env] of Object.entries(stores)) {
  const store = await openStore(loadConfig(env))
  const options = { pids: name === 'Redis' ? [redis.pid] : [] }
  const entry = (round, i) => ({
    app: 'bench',
    source: 'backchannel',
    outcome: 'revoked',
    iss: 'https://id.example.com',
    sid: `sid-${round}-${i}`,
    sub: `user-${i}`,
    revoked: 1,
  })
  rows.push([
    `audit record, ${name} store, written at once`,
    await median((round) => paced((i) => store.audit.record(entry(round, i)), options)),
  ])
  rows.push([
    `audit record, ${name} store, queued as for a logout`,
    await median((round) => {
      const queue = createAuditQueue(store.audit, { error: (fields, msg) => log(msg, fields) }, () => Date.now() / 1000)
      return paced((i) => queue.add(entry(round, i)), { ...options, settle: () => queue.close() })
    }),
  ])
  await store.close()
}
redis?.stop()
await rm(dir, { recursive: true, force: true })

console.log(
  [
    `${ROUNDS} round(s) of ${SECONDS} s at ${RATE.toLocaleString('en')} a second, medians; node ${process.version}`,
    '',
    '| part | CPU per operation (µs) |',
    '| --- | ---: |',
    ...rows.map(([part, us]) => `| ${part} | ${us.toFixed(1)} |`),
  ].join('\n'),
)
