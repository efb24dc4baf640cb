// pnpm bench (pnpm build && node bench/run.js): the benchmark suite, everything once, on loopback.
// - The load run: each contender in its own process, driven by autocannon from this one with
//   unique, valid RS256 logout tokens (each matching a registered session), the ceiling (h3 + jose
//   verify, nothing else) first and last. Requests/s, p50/p99, the server's CPU per request over
//   every thread of its processes (redis-server's too for the Redis store, from /proc) and both as
//   ratios to the ceiling; then each store's p99 at half its maximum, open loop; JWKS and discovery
//   requests after warm-up.
// - Time from `backchannel serve` on a fresh fs folder to /readyz = 200.
// - The stores alone (stores.js): revoking 10,000 sessions with 1,000 vs 200,000 others, heap and
//   Redis bytes per session.
// Knobs:
//   BENCH_SMOKE=1     about a second per part, small sizes: checks that everything runs (CI), not speed
//   BENCH_DURATION=s  seconds of each measured load run (default 10)
//   BENCH_ONLY=regex  only the load contenders whose name matches (the ceilings always run)
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import {
  CONNECTIONS,
  DURATION,
  fixedRate,
  fmt,
  gateway,
  here,
  log,
  measuredLoad,
  output,
  SMOKE,
  start,
  startRedis,
  storageEnv,
  tempDir,
  timeToReady,
  warmUp,
} from './lib.js'

// Enough for warm-up, full speed and the paced run of a gateway without reusing a token.
const TOKENS = SMOKE ? 3_000 : 9_000 * DURATION
const idp = await startIssuer()
log(`minting ${fmt(TOKENS)} RS256 tokens…`)
const tokens = await idp.mint(TOKENS)
const redis = await startRedis()
const dirs = []

const script = (file) => () => start([join(here, 'contenders', file)], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' })
const backchannel = (kind) => async () => {
  const folder = kind === 'fs' ? await tempDir('bench-fs-') : undefined
  if (folder) dirs.push(folder)
  return gateway(storageEnv(kind, { folder, redisUrl: redis.url }), idp.issuer, tokens)
}
const halfRate = (result) => Math.round(result.rps / 2)

/**
 * The load contenders, in order. `also`: other processes whose CPU its requests cost. `pace`: the
 * rate of a paced run after the full-speed one, from its result and the paced runs before it.
 */
const contenders = [
  { name: 'ceiling (h3 + jose verify)', launch: script('ceiling.js') },
  { name: 'Backchannel, memory store', launch: backchannel('memory'), pace: halfRate },
  { name: 'Backchannel, fs store', launch: backchannel('fs'), pace: halfRate },
  { name: 'Backchannel, Redis store', launch: backchannel('redis'), also: [redis.pid], pace: halfRate },
  { name: 'peer: express-openid-connect', launch: script('peer.js') },
  {
    name: 'ceiling (h3 + jose verify), again',
    launch: script('ceiling.js'),
    // The floor for the stores' paced p99: the ceiling at the memory store's rate.
    pace: (_, paced) => paced.find((r) => r.name.includes('memory'))?.rate,
    pacedName: "ceiling, at the memory store's rate",
  },
]

const only = process.env.BENCH_ONLY && new RegExp(process.env.BENCH_ONLY, 'i')
const rows = []
const paced = []
for (const c of contenders) {
  if (only && !only.test(c.name) && !c.name.startsWith('ceiling')) continue
  log(`${c.name}: starting`)
  const server = await c.launch()
  const from = await warmUp(server.url, tokens)
  const hits = idp.hits.discovery + idp.hits.jwks
  log(`${c.name}: ${DURATION} s under load`)
  const result = await measuredLoad(server.url, tokens, from, [server.pid, ...(c.also ?? [])])
  rows.push({ name: c.name, ...result, fetches: idp.hits.discovery + idp.hits.jwks - hits })
  const rate = c.pace?.(result, paced)
  if (rate) {
    log(`${c.name}: ${DURATION} s at ${fmt(rate)} requests/s`)
    paced.push({ name: c.pacedName ?? c.name, ...(await fixedRate(server.url, tokens, result.used, rate)) })
  }
  await server.stop()
}

log('time to ready, three times…')
const ready = []
for (let i = 0; i < 3; i++) ready.push(await timeToReady())
ready.sort((a, b) => a - b)
log('the stores alone (stores.js)…')
const stores = JSON.parse(await output([join(here, 'stores.js')], { REDIS_URL: redis.url }))

await redis.stop()
await idp.close()
for (const dir of dirs) await rm(dir, { recursive: true, force: true })

// ── the report ──
const ceilings = rows.filter((r) => r.name.startsWith('ceiling'))
const mean = (key) => ceilings.reduce((sum, r) => sum + r[key], 0) / ceilings.length
const [ceilingRps, ceilingUs] = [mean('rps'), mean('serverUs')]
const pct = (x) => (x === undefined ? '-' : `${(x * 100).toFixed(1)} %`)
const reused = (r) => (r.wrapped ? ' (tokens reused)' : '')
const table = (head, lines) => [`| ${head.join(' | ')} |`, `| --- |${' ---: |'.repeat(head.length - 1)}`, ...lines]
const lines = [
  `${DURATION} s per run, ${CONNECTIONS} connections, ${fmt(TOKENS)} unique RS256 tokens, node ${process.version}`,
  '',
  ...table(
    [
      'contender',
      'requests/s',
      'p50 (ms)',
      'p99 (ms)',
      'errors',
      'ratio to ceiling',
      'server CPU/request (µs)',
      'CPU ratio to ceiling',
      'steal',
    ],
    rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors}${reused(r)} | ${(r.rps / ceilingRps).toFixed(2)} | ${fmt(r.serverUs)} | ${(r.serverUs / ceilingUs).toFixed(2)} | ${pct(r.steal)} |`,
    ),
  ),
  '',
  "At a fixed rate, half of each store's maximum (open loop; the first seconds at that rate not measured):",
  '',
  ...table(
    ['contender', 'requests/s', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'errors', 'major GCs', 'steal'],
    paced.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rate)} | ${r.p50} | ${r.p99} | ${r.max} | ${r.errors}${reused(r)} | ${r.majors ?? '-'} | ${pct(r.steal)} |`,
    ),
  ),
  '',
  `JWKS and discovery requests at the issuer during the measured runs (after warm-up): ${rows.map((r) => r.fetches).join(', ')}.`,
  `Time from \`backchannel serve\` to /readyz = 200 (fs, fresh folder): median ${fmt(ready[1])} ms (${ready.map(fmt).join(', ')}).`,
  `Heap per session (${fmt(stores.sessions)} sessions, after full collections): ${Object.entries(stores.heapPerSession)
    .map(([name, bytes]) => `${name} ${fmt(bytes)} bytes`)
    .join(', ')}; Redis used_memory per session: ${fmt(stores.redisPerSession)} bytes.`,
  '',
  `Revoking a user with 10,000 sessions (mean ms of ${SMOKE ? 2 : 10}, after one):`,
  '',
  ...table(
    ['store', `${fmt(stores.others[0])} others (ms)`, `${fmt(stores.others[1])} others (ms)`, 'ratio'],
    stores.revoke.map((r) => `| ${r.store} | ${fmt(r.few)} | ${fmt(r.many)} | ${(r.many / r.few).toFixed(2)} |`),
  ),
]
// The ceiling runs first and last: if it moved, the machine's speed changed during the run.
const [first, last] = [ceilings[0], ceilings.at(-1)]
if (Math.abs(first.rps - last.rps) / Math.max(first.rps, last.rps) > 0.25)
  lines.push(
    '',
    `WARNING: the ceiling served ${fmt(first.rps)} then ${fmt(last.rps)} requests/s: the machine's speed changed during the run; do not compare these figures.`,
  )
const stolen = [...rows, ...paced].filter((r) => r.steal > 0.05)
if (stolen.length)
  lines.push(
    '',
    `WARNING: the hypervisor took more than 5 % of the CPU during ${stolen.map((r) => `${r.name} (${pct(r.steal)})`).join(', ')}: do not compare these figures.`,
  )
console.log(lines.join('\n'))

const failed = [...rows, ...paced].filter((r) => !r.name.startsWith('peer') && r.errors > 0)
if (failed.length) {
  console.error(`errors in: ${failed.map((r) => r.name).join(', ')}`)
  process.exitCode = 1
}
