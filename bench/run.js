// pnpm bench: each contender in its own process on loopback, driven by autocannon from this one
// with unique, valid RS256 logout tokens (distinct jti and sub, each matching one registered
// session), one after another in the same run, the ceiling first and last.
// BENCH_SMOKE=1: a second or so per contender (CI); it checks that everything runs, not speed.
// BENCH_TOKENS, BENCH_DURATION, BENCH_REDIS_SESSIONS override the sizes; BENCH_ONLY=regex picks contenders.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import {
  CONNECTIONS,
  collectionsCell,
  DURATION,
  fixedRate,
  fmt,
  gateway,
  here,
  log,
  measuredLoad,
  redisMemoryPerSession,
  SMOKE,
  start,
  startRedis,
  storageEnv,
  timeToReady,
  warmUp,
} from './lib.js'

const TOKENS = Number(process.env.BENCH_TOKENS ?? (SMOKE ? 3_000 : 90_000))
const MILLION = Number(process.env.BENCH_REDIS_SESSIONS ?? (SMOKE ? 10_000 : 1_000_000))

// ── the run ───────────────────────────────────────────────────────────────────────────────────
const idp = await startIssuer()
log(`minting ${TOKENS.toLocaleString('en')} RS256 tokens…`)
const tokens = await idp.mint(TOKENS)
const redis = await startRedis()
const dirs = []
const rows = []
const hitsDuringLoad = []

const contenders = [
  [
    'ceiling (h3 + jose verify)',
    () => start([join(here, 'contenders/ceiling.js')], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' }),
  ],
  ['Backchannel, memory store', () => gateway(storageEnv('memory'), idp.issuer, tokens)],
  [
    'Backchannel, fs store',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'bench-fs-'))
      dirs.push(dir)
      return { ...(await gateway(storageEnv('fs', { folder: dir }), idp.issuer, tokens)), folder: dir }
    },
  ],
  ['Backchannel, Redis store', () => gateway(storageEnv('redis', { redisUrl: redis.url }), idp.issuer, tokens)],
  [
    'peer: express-openid-connect',
    () => start([join(here, 'contenders/peer.js')], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' }),
  ],
  [
    'ceiling (h3 + jose verify), again',
    () => start([join(here, 'contenders/ceiling.js')], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' }),
  ],
]

// BENCH_TIMELINE=folder: a CSV per paced run of every 100 ms in it (see lib.fixedRate).
// For the fs store, it also says when its journal was being rewritten.
const traced = (name, server) => ({
  pid: server.pid,
  folder: server.folder,
  timeline: process.env.BENCH_TIMELINE && join(process.env.BENCH_TIMELINE, `${name.replace(/\W+/g, '-')}.csv`),
})

// BENCH_ONLY=regex runs only the contenders whose name matches (and the ceiling), to iterate.
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, 'i') : undefined
const paced = []
for (const [name, launch] of contenders) {
  if (only && !only.test(name) && !name.startsWith('ceiling')) continue
  log(`${name}: starting`)
  const server = await launch()
  const from = await warmUp(server.url, tokens)
  const before = { ...idp.hits }
  log(`${name}: ${DURATION} s under load`)
  // CPU per request: the contender's process (and redis-server's for the Redis store).
  const result = await measuredLoad(server.url, tokens, from, [
    server.pid,
    ...(name.includes('Redis') ? [redis.pid] : []),
  ])
  hitsDuringLoad.push(idp.hits.discovery - before.discovery + idp.hits.jwks - before.jwks)
  rows.push({ name, ...result })
  if (name.startsWith('Backchannel')) {
    // p99 at half the maximum, open loop, on the tokens the full-speed run did not use.
    log(`${name}: ${DURATION} s at half its maximum rate`)
    const rate = Math.round(result.rps / 2)
    paced.push({ name, ...(await fixedRate(server.url, tokens, result.used, rate, DURATION, traced(name, server))) })
  }
  const memory = name.endsWith(', again') && paced.find((r) => r.name.includes('memory'))
  if (memory) {
    // The floor for those figures: the ceiling paced at the memory store's rate on the same machine.
    log(`${name}: ${DURATION} s at the memory store's half rate`)
    paced.push({
      name,
      ...(await fixedRate(server.url, tokens, result.used, memory.rate, DURATION, traced(name, server))),
    })
  }
  await server.stop()
}

const ready = []
for (let i = 0; i < 3; i++) ready.push(await timeToReady())
ready.sort((a, b) => a - b)
log(`Redis memory: registering ${MILLION.toLocaleString('en')} sessions…`)
const perSession = await redisMemoryPerSession(redis.url, MILLION)

redis.stop()
await idp.close()
for (const dir of dirs) await rm(dir, { recursive: true, force: true })

// ── the report ────────────────────────────────────────────────────────────────────────────────
const ceilings = rows.filter((r) => r.name.startsWith('ceiling'))
const ceiling = ceilings.reduce((sum, r) => sum + r.rps, 0) / ceilings.length
const gc = (c) => (c ? `${collectionsCell(c, 'minor')}; ${collectionsCell(c, 'major')}` : '-')
const failures = (r) =>
  r.errors
    ? `${r.errors} (${Object.entries(r.errorKinds)
        .map(([kind, n]) => `${n} ${kind}`)
        .join(', ')})`
    : '0'
const pct = (x) => (x === undefined ? '-' : `${(x * 100).toFixed(1)} %`)
const lines = [
  `${DURATION} s per contender, ${CONNECTIONS} connections, ${fmt(TOKENS)} unique RS256 tokens, node ${process.version}`,
  '',
  '| contender | requests/s | p50 (ms) | p99 (ms) | errors | ratio to ceiling | server CPU/request (µs) | load generator CPU/request (µs) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} | ${(r.rps / ceiling).toFixed(2)}${r.wrapped ? ' (tokens reused)' : ''} | ${fmt(r.serverUs)} | ${fmt(r.loaderUs)} |`,
  ),
  '',
  "At a fixed rate, half of each store's maximum (open loop, evenly spaced; the ceiling at the memory store's rate):",
  '',
  '| contender | requests/s | p50 (ms) | p99 (ms) | max (ms) | errors | steal | load generator CPU/request (µs) | longest event-loop delay: load generator, contender (ms) | contender GC: minor, major (count, ms) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...paced.map(
    (r) =>
      `| ${r.name} | ${fmt(r.rate)} | ${r.p50} | ${r.p99} | ${r.max} | ${failures(r)}${r.wrapped ? ' (tokens reused)' : ''} | ${pct(r.steal)} | ${fmt(r.loaderUs)} | ${r.loaderLoopMs}, ${r.gatewayLoopMs ?? '-'} | ${gc(r.collections)} |`,
  ),
  '',
  `JWKS and discovery requests at the issuer during the measured runs (after warm-up): ${hitsDuringLoad.join(', ')}.`,
  `Time from \`backchannel serve\` to /readyz = 200 (fs storage, fresh folder): median ${fmt(ready[1])} ms (${ready.map(fmt).join(', ')}).`,
  `Redis memory per registered session (${fmt(MILLION)} sessions, sid + sub indexed): ${fmt(perSession)} bytes.`,
]
if (rows.some((r) => r.steal !== undefined)) {
  lines.push(
    `CPU time the hypervisor gave to other guests (steal) during each measured run: ${rows.map((r) => pct(r.steal)).join(', ')}.`,
  )
}
// The ceiling runs first and last: if it moved, the machine's speed changed during the run.
const [first, last] = [ceilings[0], ceilings.at(-1)]
if (first && last && first !== last && Math.abs(first.rps - last.rps) / Math.max(first.rps, last.rps) > 0.25) {
  lines.push(
    '',
    `WARNING: the ceiling measured ${fmt(first.rps)} then ${fmt(last.rps)} requests/s: the machine's speed changed during the run; do not compare these figures.`,
  )
}
const stolen = [...rows, ...paced].filter((r) => r.steal > 0.05)
if (stolen.length) {
  lines.push(
    '',
    `WARNING: the hypervisor took more than 5 % of the CPU during ${stolen.map((r) => `${r.name} (${pct(r.steal)})`).join(', ')}: this machine was shared; do not compare these figures.`,
  )
}
console.log(lines.join('\n'))
const failed = [...rows, ...paced].filter((r) => !r.name.startsWith('peer') && r.errors > 0)
if (failed.length) {
  console.error(`errors in: ${failed.map((r) => r.name).join(', ')}`)
  process.exitCode = 1
}
