// pnpm bench (pnpm build && node bench/run.js): the benchmark suite, everything once, on loopback.
// - The load run: each contender in its own process, driven by autocannon from this one with
//   unique, valid RS256 logout tokens (each matching a registered session), the ceiling (h3 + jose
//   verify, nothing else) first and last. The gateway on memory, fs, fs with 3 relays (delivery
//   paused: relays.js), fs with 2 workers, Redis and PostgreSQL, and on memory and fs again with
//   Shared Signals events pushed instead (unique CAEP session-revoked SETs, each ending the session
//   a logout token ends) (a redis-server and a PostgreSQL
//   cluster of the run's own). Requests/s, p50/p99, the server's CPU per request over every
//   thread of its processes and their children (the workers; redis-server's and PostgreSQL's
//   processes too for those stores, from /proc) and both as ratios to the ceiling; then each
//   store's p99 at half its maximum, open loop (the last ceiling at the memory and fs stores'
//   rates); JWKS and discovery requests after warm-up.
// - Relays (relays.js): the outbox emptied by the drainer, and the IdP's 200 to the last relay's 2xx.
// - Time from `backchannel serve` on a fresh fs folder to /readyz = 200; and with 100,000 and
//   200,000 sessions registered (filled.js), extrapolated to 1,000,000: disk per session, time to
//   the store's first answer and heap growth in a fresh process, and the gateway's time to /readyz.
// - The stores alone (stores.js): revoking 10,000 sessions with 1,000 vs 200,000 others, heap,
//   Redis and PostgreSQL bytes per session.
// - Verification on Node, Bun and Deno (runtimes.js): CPU per verify of core's verifier, same tokens.
// Knobs:
//   BENCH_SMOKE=1     about a second per part, small sizes: checks that everything runs (CI), not speed
//   BENCH_DURATION=s  seconds of each measured load run (default 10)
//   BENCH_ONLY=regex  only the load contenders whose name matches (the ceilings always run), and
//                     the relays' delivery run if it matches "relays"
//   BENCH_SESSIONS=n  sessions of the fs store opened (default 200,000, filled in two halves: the
//                     figures at 1,000,000 are extrapolated from both; 1000000 measures them, but
//                     registering them took 6.6 minutes on this shared 2-core machine)
//   BENCH_BASELINE=/path/to/checkout  another checkout, built (e.g. the code before a change): each
//                     single-process store row also runs from its packages/server/bin/backchannel.js,
//                     named "…, baseline", right after the row of this checkout (same tokens, same
//                     issuer), and so does the fs store with many sessions. A store that checkout
//                     cannot open is listed as not run.
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import {
  CHECKOUT,
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
  startPostgres,
  startRedis,
  storageEnv,
  tempDir,
  timeToReady,
  warmUp,
} from './lib.js'
import { deliveryRun, RELAYS, startSink } from './relays.js'

// Enough for warm-up, full speed and the paced run of a gateway without reusing a token.
const TOKENS = SMOKE ? 3_000 : 9_000 * DURATION
const idp = await startIssuer()
log(`minting ${fmt(TOKENS)} RS256 tokens…`)
const tokens = await idp.mint(TOKENS)
const redis = await startRedis()
const postgres = await startPostgres()
const sink = await startSink()
/** The audience of the tokens the gateway signs for its relays. */
const RELAY_CLIENT = 'bench-relay'
const baseline = process.env.BENCH_BASELINE && resolve(process.env.BENCH_BASELINE)
const dirs = []

const script = (file) => () => start([join(here, 'contenders', file)], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' })
/** The Shared Signals rows' SETs, minted once, when the first of them runs (token i ends session i, as logout token i does). */
let sets
const setsFor = async () => {
  if (!sets) {
    log(`minting ${fmt(TOKENS)} RS256 Security Event Tokens…`)
    sets = await idp.mintSets(TOKENS)
  }
  return sets
}

/**
 * `backchannel serve` of `checkout` on a fresh store of `kind`, with `workers` processes and
 * `relays`; with `stream`, SETs are pushed to a stream instead of logout tokens posted.
 */
const backchannel =
  (kind, { workers, checkout, relays, stream } = {}) =>
  async () => {
    const folder = kind === 'fs' ? await tempDir('bench-fs-') : undefined
    if (folder) dirs.push(folder)
    if (kind === 'redis') await redis.flush()
    const url = kind === 'redis' ? redis.url : kind === 'postgres' ? await postgres.database() : undefined
    const env = { ...storageEnv(kind, { folder, url }), ...(workers && { BACKCHANNEL_WORKERS: String(workers) }) }
    return gateway(env, idp.issuer, stream ? await setsFor() : tokens, { checkout, relays, stream })
  }
const halfRate = (result) => Math.round(result.rps / 2)
/** A store's row, then (BENCH_BASELINE) the same from the baseline checkout. */
const store = (name, kind, { also, workers } = {}) => [
  { name, launch: backchannel(kind, { workers }), also, pace: halfRate },
  // Not with workers: a checkout without them would ignore the setting and run one process.
  ...(baseline && !workers
    ? [{ name: `${name}, baseline`, launch: backchannel(kind, { checkout: baseline }), also, pace: halfRate }]
    : []),
]

/**
 * The fs store with relays, measured right after the same store without: the sink holds what the
 * relays post until the row is over, so the drainer does nothing meanwhile (delivery is measured
 * on its own in deliveryRun()).
 */
async function withPausedRelays() {
  sink.pause()
  const server = await backchannel('fs', { relays: sink.relays(RELAY_CLIENT) })()
  return {
    ...server,
    stop: async () => {
      sink.resume()
      await server.stop()
    },
  }
}
/** The rate of the paced run named `name`, as a paced run of the ceiling at that rate. */
const atRateOf = (paced, name, store) => ({
  rate: paced.find((r) => r.name === name)?.rate,
  name: `ceiling, at the ${store} store's rate`,
})

/**
 * The load contenders, in order. `also`: other processes whose CPU its requests cost. `pace`: the
 * paced runs after the full-speed one (a rate, or a list of { rate, name }), from its result and
 * the paced runs before it.
 */
const contenders = [
  { name: 'ceiling (h3 + jose verify)', launch: script('ceiling.js') },
  ...store('Backchannel, memory store', 'memory'),
  ...store('Backchannel, fs store', 'fs'),
  // Against the two rows above: the same store, a SET per request instead of a logout token.
  { name: 'Backchannel, memory store, pushed SETs', launch: backchannel('memory', { stream: true }) },
  { name: 'Backchannel, fs store, pushed SETs', launch: backchannel('fs', { stream: true }) },
  { name: `Backchannel, fs store, ${RELAYS} sign relays (delivery paused)`, launch: withPausedRelays },
  ...store('Backchannel, fs store, 2 workers', 'fs', { workers: 2 }),
  ...store('Backchannel, Redis store', 'redis', { also: [redis.pid] }),
  ...store('Backchannel, PostgreSQL store', 'postgres', { also: [postgres.pid] }),
  { name: 'peer: express-openid-connect', launch: script('peer.js') },
  {
    name: 'ceiling (h3 + jose verify), again',
    launch: script('ceiling.js'),
    // The floor for the stores' paced p99: the ceiling at the memory and fs stores' rates.
    pace: (_, paced) => [
      atRateOf(paced, 'Backchannel, memory store', 'memory'),
      atRateOf(paced, 'Backchannel, fs store', 'fs'),
    ],
  },
]

const only = process.env.BENCH_ONLY && new RegExp(process.env.BENCH_ONLY, 'i')
const rows = []
const paced = []
const notRun = []
for (const c of contenders) {
  if (only && !only.test(c.name) && !c.name.startsWith('ceiling')) continue
  log(`${c.name}: starting`)
  const server = await c.launch().catch((err) => {
    if (!c.name.endsWith(', baseline')) throw err
    // The gateway's own explanation: the last line it printed.
    const why = err.message
      .trim()
      .split('\n')
      .at(-1)
      .replace(/^.* exited with \d+: /, '')
    notRun.push(`${c.name} (${why.slice(0, 200)})`)
  })
  if (!server) continue
  // A Shared Signals row pushes its SETs (server.request); the others post logout tokens.
  const sent = server.request ? await setsFor() : tokens
  const from = await warmUp(server.url, sent, server.request)
  const hits = idp.hits.discovery + idp.hits.jwks
  log(`${c.name}: ${DURATION} s under load`)
  const result = await measuredLoad(server.url, sent, from, [server.pid, ...(c.also ?? [])], server.request)
  rows.push({ name: c.name, ...result, fetches: idp.hits.discovery + idp.hits.jwks - hits })
  let next = result.used
  for (const pace of [c.pace?.(result, paced) ?? []].flat()) {
    const { rate, name } = typeof pace === 'number' ? { rate: pace, name: c.name } : pace
    if (!rate) continue
    log(`${name}: ${DURATION} s at ${fmt(rate)} requests/s`)
    paced.push({ name, ...(await fixedRate(server.url, tokens, next, rate)) })
    next = paced.at(-1).used
  }
  await server.stop()
}
const relays =
  !only || only.test('relays')
    ? await deliveryRun({ sink, issuer: idp.issuer, tokens, clientId: RELAY_CLIENT })
    : undefined

log('time to ready, three times…')
const ready = []
for (let i = 0; i < 3; i++) ready.push(await timeToReady())
ready.sort((a, b) => a - b)
// Registering is what takes the time (1,000 to 9,000 sessions a second, slower as the folder
// grows): the folder is filled to half, opened, filled to the end and opened again, and a line
// through both sizes gives the figures at 1,000,000.
const FILLED = Number(process.env.BENCH_SESSIONS ?? (SMOKE ? 20_000 : 200_000))
const filled = []
for (const [name, checkout] of [['fs', CHECKOUT], ...(baseline ? [['fs, baseline', baseline]] : [])]) {
  const folder = await tempDir('bench-filled-')
  const step = async (...args) =>
    JSON.parse(await output([join(here, 'filled.js'), ...args], { BENCH_CHECKOUT: checkout }))
  const half = Math.round(FILLED / 2)
  for (const [from, to] of [
    [0, half],
    [half, FILLED],
  ]) {
    log(`${name}: registering ${fmt(to - from)} sessions, up to ${fmt(to)}…`)
    const fill = await step('fill', folder, String(from), String(to))
    log(`${name}: opening ${fmt(to)} sessions, in a fresh process then in the gateway…`)
    const open = await step('open', folder)
    const registering = fill.ms + (from === 0 ? 0 : filled.at(-1).registering)
    filled.push({
      name,
      sessions: to,
      registering,
      bytes: fill.bytes,
      open,
      ready: await timeToReady({ folder, checkout }),
    })
  }
  await rm(folder, { recursive: true, force: true })
}
log('the stores alone (stores.js)…')
const POSTGRES_URL = await postgres.database()
const stores = JSON.parse(await output([join(here, 'stores.js')], { REDIS_URL: redis.url, POSTGRES_URL }))

await redis.stop()
await postgres.stop()
await sink.close()
await idp.close()
log('verification on Node, Bun and Deno (runtimes.js)…')
const runtimes = (await output([join(here, 'runtimes.js')], {})).trim().split('\n')
for (const dir of dirs) await rm(dir, { recursive: true, force: true })

// ── the report ──
const ceilings = rows.filter((r) => r.name.startsWith('ceiling'))
const mean = (key) => ceilings.reduce((sum, r) => sum + r[key], 0) / ceilings.length
const [ceilingRps, ceilingUs] = [mean('rps'), mean('serverUs')]
const pct = (x) => (x === undefined ? '-' : `${(x * 100).toFixed(1)} %`)
const reused = (r) => (r.wrapped ? ' (tokens reused)' : '')
const table = (head, lines) => [`| ${head.join(' | ')} |`, `| --- |${' ---: |'.repeat(head.length - 1)}`, ...lines]
/** The relay figures (issue 22): the rows of the load run with and without relays, and deliveryRun(). */
function relayTable() {
  const without = rows.find((r) => r.name === 'Backchannel, fs store')
  const withRelays = rows.find((r) => r.name.includes('relays'))
  const lines = []
  if (without && withRelays)
    lines.push(
      `| server CPU per IdP request, with relays / without (delivery paused) | ${(withRelays.serverUs / without.serverUs).toFixed(2)} (${fmt(withRelays.serverUs)} / ${fmt(without.serverUs)} µs) | ≤ 1.3 |`,
    )
  if (relays) {
    const { drain, paced: p } = relays
    const missing = (n) => (n > 0 ? ` (${fmt(n)} never answered)` : '')
    lines.push(
      `| relayed tokens per second, emptying an outbox of ${fmt(relays.backlog * RELAYS)} | ${fmt(drain.rate)}${missing(drain.missing)} | ≥ 1,000 |`,
      `| server CPU per relayed token (µs) | ${fmt(drain.serverUs)} | - |`,
      `| IdP's 200 to the last relay's 2xx at ${fmt(p.rate)} logouts/s: p50 / p99 / max (ms) | ${p.p50} / ${p.p99} / ${p.max}${missing(p.missing)} | - |`,
    )
  }
  if (!lines.length) return []
  const head = `Relays: the fs store with ${RELAYS} \`sign\` relays per application, each posting to a sink on loopback that answers 204:`
  return ['', head, '', ...table(['figure', 'value', 'target'], lines)]
}
/** Issue 23: a pushed SET against a back-channel logout on the same store, in server CPU per request. */
function ssfTable() {
  const lines = []
  for (const kind of ['memory', 'fs']) {
    const logout = rows.find((r) => r.name === `Backchannel, ${kind} store`)
    const pushed = rows.find((r) => r.name === `Backchannel, ${kind} store, pushed SETs`)
    if (logout && pushed)
      lines.push(
        `| server CPU per request, pushed session-revoked SET / back-channel logout, ${kind} store | ${(pushed.serverUs / logout.serverUs).toFixed(2)} (${fmt(pushed.serverUs)} / ${fmt(logout.serverUs)} µs) | ≤ 1.2 |`,
      )
  }
  if (!lines.length) return []
  const head =
    'Shared Signals: a CAEP `session-revoked` SET pushed to `/ssf/:stream` (RFC 8935) against a logout token, each ending one session:'
  return ['', head, '', ...table(['figure', 'value', 'target'], lines)]
}
const lines = [
  `${DURATION} s per run, ${CONNECTIONS} connections, ${fmt(TOKENS)} unique RS256 tokens, node ${process.version}, PostgreSQL ${postgres.version} (synchronous_commit=off)${baseline ? `, baseline: ${baseline}` : ''}`,
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
  ...relayTable(),
  ...ssfTable(),
  '',
  `JWKS and discovery requests at the issuer during the measured runs (after warm-up): ${rows.map((r) => r.fetches).join(', ')}.`,
  `Time from \`backchannel serve\` to /readyz = 200 (fs, fresh folder): median ${fmt(ready[1])} ms (${ready.map(fmt).join(', ')}).`,
  `Heap per session (${fmt(stores.sessions)} sessions, after full collections): ${Object.entries(stores.heapPerSession)
    .map(([name, bytes]) => `${name} ${fmt(bytes)} bytes`)
    .join(', ')}; on the server, per session: ${Object.entries(stores.serverPerSession)
    .map(([name, bytes]) => `${name} ${fmt(bytes)} bytes`)
    .join(', ')} (Redis: used_memory; PostgreSQL: tables, indexes and TOAST).`,
  '',
  `The fs store filled through its API (two sessions per user), then opened by a fresh process${FILLED === 1e6 ? '' : '; at 1,000,000, extrapolated: the line through the two sizes (flat where the figure fell)'}:`,
  '',
  ...table(
    [
      'store',
      'sessions',
      'registering (s)',
      'disk per session (bytes)',
      'open to first status() (ms)',
      'heap growth (MB)',
      'gateway to /readyz (ms)',
    ],
    filled.flatMap((r, i) => {
      const line = `| ${r.name} | ${fmt(r.sessions)} | ${fmt(r.registering / 1000)} | ${fmt(r.bytes / r.sessions)} | ${fmt(r.open.ms)} | ${(r.open.heap / 1e6).toFixed(1)} | ${fmt(r.ready)} |`
      if (i % 2 === 0 || FILLED === 1e6) return [line]
      const [a, b] = [filled[i - 1], r]
      // Never below the larger size's figure: more sessions do not open faster.
      const at = (value) =>
        value(b) + (Math.max(0, value(b) - value(a)) * (1e6 - b.sessions)) / (b.sessions - a.sessions)
      const heap = at((x) => x.open.heap) / 1e6
      return [
        line,
        `| ${r.name} | 1,000,000 | - | - | ${fmt(at((x) => x.open.ms))} | ${heap.toFixed(1)} | ${fmt(at((x) => x.ready))} |`,
      ]
    }),
  ),
  '',
  `Revoking a user with ${fmt(stores.userSessions)} sessions (mean ms of ${SMOKE ? 2 : 10}, after one):`,
  '',
  ...table(
    ['store', `${fmt(stores.others[0])} others (ms)`, `${fmt(stores.others[1])} others (ms)`, 'ratio'],
    stores.revoke.map((r) => `| ${r.store} | ${fmt(r.few)} | ${fmt(r.many)} | ${(r.many / r.few).toFixed(2)} |`),
  ),
  '',
  ...runtimes,
]
if (notRun.length) lines.push('', `Not run from the baseline: ${notRun.join('; ')}.`)
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
if (relays && (relays.paced.errors > 0 || relays.paced.missing > 0 || relays.drain.missing > 0))
  failed.push({ name: 'relays (errors or deliveries never answered)' })
if (failed.length) {
  console.error(`errors in: ${failed.map((r) => r.name).join(', ')}`)
  process.exitCode = 1
}
