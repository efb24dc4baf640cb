// node ablate.js [memory|fs|redis]: what each part of a logout's work costs. The gateway runs in
// process (contenders/gateway-in-process.js) with everything on, then with one part switched off
// at a time, then with all of them off, between two runs of the ceiling; each row gives
// requests/s and CPU per request: all the process's threads, and its JavaScript thread alone
// (the one every request waits for). BENCH_RATE=n: each row paced at n requests/s instead
// (open loop, evenly spaced, as run.js's paced period), to see what each part costs when logouts
// come one at a time; the table then gives each row's p99 instead of its ratio to the ceiling.
// Needs `pnpm build`. An explanation for BENCHMARKS.md, not a way to run the gateway.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import {
  CONNECTIONS,
  DURATION,
  fixedRate,
  fmt,
  here,
  log,
  measuredLoad,
  start,
  startRedis,
  storageEnv,
  warmUp,
} from './lib.js'

const kind = process.argv[2] ?? 'memory'
const RATE = Number(process.env.BENCH_RATE ?? 0)
const PARTS = ['audit', 'revoke', 'claim', 'metrics', 'log']
const idp = await startIssuer()
const tokens = await idp.mint(Number(process.env.BENCH_TOKENS ?? 40_000))
const dir = await mkdtemp(join(tmpdir(), 'bench-ablate-'))
const redis = kind === 'redis' ? await startRedis() : undefined
let runs = 0
// A fresh store per run: its own folder, or its own Redis database.
const storage = () => {
  runs++
  return storageEnv(kind, { folder: join(dir, `data-${runs}`), redisUrl: `${redis?.url}/${runs % 16}` })
}

const ceiling = () => start([join(here, 'contenders/ceiling.js')], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' })
const gateway = (strip) =>
  start([join(here, 'contenders/gateway-in-process.js')], {
    ...storage(),
    ISSUER: idp.issuer,
    CLIENT_ID,
    TOKENS: String(tokens.length),
    STRIP: strip.join(','),
    BACKCHANNEL_LOG_LEVEL: 'info',
  })
const variants = [
  ['ceiling (h3 + jose verify)', ceiling],
  [`Backchannel, ${kind} store, everything on`, () => gateway([])],
  ...PARTS.map((part) => [`  without ${part}`, () => gateway([part])]),
  [`  without any of them`, () => gateway(PARTS)],
  ['ceiling, again', ceiling],
]

/** RATE requests/s for DURATION s, open loop, as measuredLoad's load. */
async function paced(url, from) {
  const { p99 } = await fixedRate(url, tokens, from, RATE, DURATION, { settle: 0 })
  return { rps: RATE, requests: Math.round(RATE * DURATION), p99 }
}

// BENCH_ROUNDS=n runs the whole sequence n times and reports each row's median: this machine's
// speed drifts, and a median over rounds moves less than any one run.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1)
const samples = new Map()
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, launch] of variants) {
    log(`round ${round}/${ROUNDS}, ${name}: ${DURATION} s ${RATE ? `at ${fmt(RATE)} requests/s` : 'under load'}`)
    const server = await launch()
    const from = await warmUp(server.url, tokens)
    const pids = [server.pid, ...(redis ? [redis.pid] : [])]
    const {
      rps,
      serverUs: all,
      mainUs: main,
      steal = Number.NaN,
      p99,
    } = await measuredLoad(server.url, tokens, from, pids, RATE ? () => paced(server.url, from) : undefined)
    samples.set(name, [...(samples.get(name) ?? []), { rps, all, main, steal, p99 }])
    await server.stop()
  }
}
redis?.stop()
await idp.close()
await rm(dir, { recursive: true, force: true })

const median = (values) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]
const rows = [...samples].map(([name, runs]) => ({
  name,
  ...Object.fromEntries(['rps', 'all', 'main', 'steal', 'p99'].map((k) => [k, median(runs.map((r) => r[k]))])),
}))
const ceilings = [...samples].filter(([name]) => name.startsWith('ceiling')).flatMap(([, runs]) => runs)
const ceilingRps = median(ceilings.map((r) => r.rps))
console.log(
  [
    `${ROUNDS} round(s), medians; ${DURATION} s per row, ${CONNECTIONS} connections, ${fmt(tokens.length)} unique RS256 tokens, node ${process.version}`,
    '',
    `| contender | requests/s | ${RATE ? 'p99 (ms)' : 'ratio to ceiling'} | CPU/request, all threads${redis ? ' + Redis' : ''} (µs) | CPU/request, JavaScript thread (µs) | steal |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rps)} | ${RATE ? r.p99 : (r.rps / ceilingRps).toFixed(2)} | ${fmt(r.all)} | ${fmt(r.main)} | ${(r.steal * 100).toFixed(1)} % |`,
    ),
    '',
    `The ceiling's runs: ${ceilings.map((r) => fmt(r.rps)).join(', ')} requests/s.`,
  ].join('\n'),
)
