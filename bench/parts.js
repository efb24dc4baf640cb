// node parts.js: what each part of a logout's work costs on its own, in this process, without
// HTTP — the replay claim, the revocation of one session, the audit record, the metrics and the
// log line, on the memory and fs stores (and Redis when redis-server is installed), next to one
// verification of a logout token by the core verifier. CPU per operation counts every thread
// (the crypto thread pool's and the logger's writes too) and, for Redis, redis-server's. Each part
// runs alone, 50 operations at a time, so this is what the part itself costs; inside a loaded
// gateway the parts also cost each other (garbage collection, more turns of the event loop):
// ablate.js and perf.js measure that. Needs `pnpm build`. BENCH_SMOKE=1 runs 300 operations a part.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKeyResolver, createLogoutVerifier } from '@backchannel/core'
import { createLogger, createMetrics, loadConfig, openStore } from '@backchannel/server'
import { CLIENT_ID, startIssuer } from './issuer.js'
import { cpuOf, log, SMOKE, startRedis, storageEnv } from './lib.js'

const OPS = SMOKE ? 300 : Number(process.env.BENCH_OPS ?? 10_000)
const ROUNDS = SMOKE ? 1 : 3
const CONCURRENCY = 50
const app = 'bench'
const idp = await startIssuer()
const iss = idp.issuer
const dir = await mkdtemp(join(tmpdir(), 'bench-parts-'))
const redis = await startRedis().catch(() => log('redis-server not found: the Redis column is left out'))

/**
 * Median CPU and wall time per call of `op(i)`, in µs, over rounds of OPS calls each, made by
 * CONCURRENCY callers at once — as many as the load benchmark's connections, so that the fs
 * journal's group commit and Redis' pipelining share their work as they do under load.
 */
async function measure(op, pids = []) {
  // This process to the microsecond; another (redis-server) from /proc.
  const cpu = () => cpuOf(pids, { self: true })
  const runs = []
  for (let round = 0; round < ROUNDS; round++) {
    const [c0, t0] = [await cpu(), performance.now()]
    let next = round * OPS
    const end = next + OPS
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < end) await op(next++)
      }),
    )
    runs.push({ wall: ((performance.now() - t0) * 1000) / OPS, cpu: (((await cpu()) - c0) * 1e6) / OPS })
  }
  const median = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor((ROUNDS - 1) / 2)]
  return { cpu: median('cpu'), wall: median('wall') }
}

const stores = {
  memory: storageEnv('memory'),
  fs: storageEnv('fs', { folder: join(dir, 'data') }),
  ...(redis && { Redis: storageEnv('redis', { redisUrl: redis.url }) }),
}
const results = new Map()
const add = (part, column, value) => results.set(part, { ...results.get(part), [column]: value })

for (const [name, env] of Object.entries(stores)) {
  log(`${name}: registering ${(ROUNDS * OPS).toLocaleString('en')} sessions`)
  const store = await openStore(loadConfig(env))
  const sessions = ROUNDS * OPS
  for (let i = 0; i < sessions; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, sessions - i) }, (_, j) =>
        store.register({ app, iss, sessionId: `s-${i + j}`, sub: `user-${i + j}`, sid: `sid-${i + j}` }),
      ),
    )
  }
  const pids = name === 'Redis' ? [redis.pid] : []
  log(`${name}: measuring`)
  add(
    'replay claim',
    name,
    await measure((i) => store.claim(`${app}\n${iss}\njti-${i}`, Date.now() / 1000 + 3600), pids),
  )
  add(
    'revocation of one session (by sid)',
    name,
    await measure(
      (i) =>
        store.revoke({ app, iss, sub: `user-${i}`, sid: `sid-${i}`, scope: 'session', issuedAt: Date.now() / 1000 }),
      pids,
    ),
  )
  add(
    'audit record',
    name,
    await measure(
      (i) =>
        store.audit.record({
          app,
          source: 'backchannel',
          outcome: 'revoked',
          iss,
          sid: `sid-${i}`,
          sub: `user-${i}`,
          revoked: 1,
        }),
      pids,
    ),
  )
  await store.close()
}

// Neither depends on the store: measured once.
const metrics = createMetrics()
add(
  'metrics (three instruments)',
  'any store',
  await measure(() => {
    metrics.logouts.inc({ app, status: '200', code: '' })
    metrics.latency.observe({ status: '200' }, 0.002)
    metrics.revoked.inc({ app }, 1)
  }),
)
const logger = createLogger('info', '/dev/null')
add('log line', 'any store', await measure(() => logger.info({ app, status: 200, revoked: 1, ms: 2.1 }, 'logout')))
logger.flush()

// For scale: what the ceiling does per request besides HTTP.
const tokens = await idp.mint(ROUNDS * OPS)
const jwks = await (await fetch(`${iss}/jwks`)).text()
// The key set is served from memory, as the gateway's cache does after warm-up.
const verifier = createLogoutVerifier({ keys: createKeyResolver({ fetch: async () => new Response(jwks) }) })
const verifyApp = { name: app, kind: 'oidc', issuer: iss, clientId: CLIENT_ID, jwksUri: `${iss}/jwks` }
add('for scale: verifying one RS256 token', 'any store', await measure((i) => verifier.verify(tokens[i], verifyApp)))

redis?.stop()
await idp.close()
await rm(dir, { recursive: true, force: true })

const columns = [...Object.keys(stores), 'any store']
const cell = (r) => (r ? `${r.cpu.toFixed(1)} (${r.wall.toFixed(1)})` : '')
console.log(
  [
    `${ROUNDS} round(s) of ${OPS.toLocaleString('en')} operations, medians; node ${process.version}`,
    '',
    `| part | ${columns.map((c) => `${c}: CPU (wall) µs`).join(' | ')} |`,
    `| --- | ${columns.map(() => '---:').join(' | ')} |`,
    ...[...results].map(([part, r]) => `| ${part} | ${columns.map((c) => cell(r[c])).join(' | ')} |`),
  ].join('\n'),
)
