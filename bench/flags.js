// node flags.js [memory|fs|redis] [variant]…: does a Node or V8 flag, or an environment variable,
// change the gateway's p99 at half its maximum? Each argument after the store is one variant: a
// space-separated list of flags for the gateway's node process and NAME=value environment
// variables for it (the first variant is always the gateway without either). Every variant runs
// as run.js runs a store: a fresh gateway and store, warm-up, DURATION s at full speed, then
// BENCH_PACED s (default DURATION) open loop at one rate for all (BENCH_RATE, or half the plain
// gateway's maximum in the first round), with its collections and longest event-loop delay. At
// that rate the memory and fs stores run a major collection every 35–45 s: a paced period of 40 s
// holds one in most runs, and shows what a flag does to it. BENCH_ROUNDS rounds, variants
// alternated; every round is printed, since one major collection more or less moves a p99 more
// than any flag. BENCH_TIMELINE=folder: each run's timeline there (see lib.fixedRate) and the
// gateway's standard output — give `--trace-gc` as a variant to see every collection (its log
// lines are left out then). BENCH_FULL=0 (needs BENCH_RATE): no full-speed run, so that the paced
// period does not also collect that run's garbage. Needs `pnpm build`. An experiment for
// BENCHMARKS.md.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startIssuer } from './issuer.js'
import {
  collectionsCell,
  DURATION,
  fixedRate,
  fmt,
  gateway,
  log,
  measuredLoad,
  startRedis,
  storageEnv,
  warmUp,
} from './lib.js'

const [kind = 'fs', ...flagged] = process.argv.slice(2)
const variants = ['', ...flagged]
// A word NAME=value in a variant is an environment variable for the gateway, not a flag.
const ENV_WORD = /^([A-Z_][A-Z0-9_]*)=(.*)$/s
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const PACED = Number(process.env.BENCH_PACED ?? DURATION)
const folder = process.env.BENCH_TIMELINE
const FULL = process.env.BENCH_FULL !== '0'
if (!FULL && !Number(process.env.BENCH_RATE)) throw new Error('BENCH_FULL=0 needs BENCH_RATE')
const idp = await startIssuer()
const dir = await mkdtemp(join(tmpdir(), 'bench-flags-'))
const redis = kind === 'redis' ? await startRedis() : undefined
let rate = Number(process.env.BENCH_RATE ?? 0)
let runs = 0
const results = []
const row = (r) =>
  `| ${r.round} | ${r.flags ? `\`${r.flags}\`` : 'none'} | ${r.rps === undefined ? '-' : fmt(r.rps)} | ${r.cpuUs === undefined ? '-' : fmt(r.cpuUs)} | ${r.p50} | ${r.p99} | ${r.max} | ${r.errors} | ${((r.steal ?? 0) * 100).toFixed(1)} % | ${r.gatewayLoopMs} | ${collectionsCell(r.collections, 'minor')} | ${collectionsCell(r.collections, 'major')} |`
for (let round = 1; round <= ROUNDS; round++) {
  // Fresh tokens each round: the gateway refuses tokens older than 10 minutes.
  const tokens = await idp.mint(Number(process.env.BENCH_TOKENS ?? 90_000))
  for (const flags of variants) {
    runs++
    const data = join(dir, `data-${runs}`)
    const env = storageEnv(kind, { folder: data, redisUrl: `${redis?.url}/${runs % 16}` })
    // V8's trace counts milliseconds from the process's start: this is when that was.
    log(`round ${round}/${ROUNDS}, ${flags || 'no flags'}, from ${new Date().toISOString()}`)
    const traced = (ext) => folder && join(folder, `${round}-${flags.replace(/\W+/g, '') || 'none'}.${ext}`)
    const words = flags.split(' ').filter(Boolean)
    const nodeArgs = words.filter((word) => !ENV_WORD.test(word))
    const extraEnv = Object.fromEntries(
      words.filter((word) => ENV_WORD.test(word)).map((word) => word.split(ENV_WORD).slice(1)),
    )
    const server = await gateway(
      { ...env, ...extraEnv, ...(nodeArgs.includes('--trace-gc') ? { BACKCHANNEL_LOG_LEVEL: 'warn' } : {}) },
      idp.issuer,
      tokens,
      nodeArgs,
      { stdout: traced('out') },
    )
    const from = await warmUp(server.url, tokens)
    const full = FULL
      ? await measuredLoad(server.url, tokens, from, [server.pid, ...(redis ? [redis.pid] : [])])
      : { rps: undefined, serverUs: undefined, used: from }
    rate ||= Math.round(full.rps / 2)
    const paced = await fixedRate(server.url, tokens, full.used, rate, PACED, {
      pid: server.pid,
      timeline: traced('csv'),
      folder: kind === 'fs' ? data : undefined,
    })
    results.push({ round, flags, rps: full.rps, cpuUs: full.serverUs, ...paced })
    log(row(results.at(-1)))
    await server.stop()
  }
}
redis?.stop()
await idp.close()
await rm(dir, { recursive: true, force: true })

console.log(
  [
    `${kind} store; ${ROUNDS} round(s), variants alternated; ${FULL ? `${DURATION} s at full speed, then ` : ''}${PACED} s at ${fmt(rate)} requests/s; node ${process.version}`,
    '',
    '| round | gateway flags | full speed (requests/s) | CPU/request (µs) | paced p50 (ms) | p99 (ms) | max (ms) | errors | steal | gateway event-loop delay (ms) | minor GC (count, ms) | major GC (count, ms) |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(row),
  ].join('\n'),
)
