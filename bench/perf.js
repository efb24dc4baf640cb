// node perf.js [memory|fs|redis]: where the gateway's CPU goes beyond the ceiling's, per request,
// sampled by Linux `perf` (cpu-clock, every thread, kernel included) with V8's perf map for
// JavaScript frames. Unlike V8's own profiler (profile.js), which samples the JavaScript thread by
// wall clock and so also counts the time it spends descheduled on a busy two-core machine, this
// counts only time on a CPU. Both contenders are warmed up under load first; then each is measured
// for BENCH_DURATION seconds. Prints µs per request by category for the JavaScript thread, the
// other threads, and the symbols that differ most. Needs `perf` (linux-tools) and `pnpm build`.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import { here, load, log, start, startRedis, storageEnv, warmUp } from './lib.js'

if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf.js needs Linux perf on the PATH')
const kind = process.argv[2] ?? 'memory'
const FREQUENCY = 2000 // samples per second per thread: 500 µs each
const idp = await startIssuer()
const tokens = await idp.mint(Number(process.env.BENCH_TOKENS ?? 40_000))
const dir = await mkdtemp(join(tmpdir(), 'bench-perf-'))
const redis = kind === 'redis' ? await startRedis() : undefined
const storage = storageEnv(kind, { folder: join(dir, 'data'), redisUrl: redis?.url })

/** Runs a contender under load with perf attached; µs per request by (thread, symbol). */
async function measure(name, script, env) {
  // V8 writes the JavaScript symbols to /tmp/perf-<pid>.map for perf report (removed after it),
  // and would also leave a log file in the working directory without --logfile.
  const v8 = ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`]
  const server = await start([...v8, join(here, script)], { ISSUER: idp.issuer, CLIENT_ID, ...env })
  const from = await warmUp(server.url, tokens)
  const file = join(dir, `${name}.data`)
  const perf = spawn(
    'perf',
    ['record', '-e', 'cpu-clock', '-F', String(FREQUENCY), '-p', String(server.pid), '-o', file],
    {
      stdio: 'ignore',
    },
  )
  await new Promise((resolve) => setTimeout(resolve, 300))
  log(`${name}: under load with perf`)
  const result = await load(server.url, tokens, from)
  perf.kill('SIGINT')
  await new Promise((resolve) => perf.once('exit', resolve))
  await server.stop()
  const report = spawnSync('perf', ['report', '-i', file, '-n', '--no-children', '-s', 'pid,sym', '--stdio'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  }).stdout
  await rm(`/tmp/perf-${server.pid}.map`, { force: true })
  const symbols = new Map()
  for (const line of report.split('\n')) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(\d+):\S+\s+\[(.)\]\s+(.*?)\s*$/.exec(line)
    if (!m) continue
    const [, samples, tid, space, symbol] = m
    const key = `${tid === String(server.pid) ? 'main' : 'other'}\t${space === 'k' ? '[kernel] ' : ''}${symbol}`
    symbols.set(key, (symbols.get(key) ?? 0) + (Number(samples) * 1e6) / FREQUENCY / result.requests)
  }
  log(`${name}: ${Math.round(result.rps)} requests/s`)
  return symbols
}

/** The category of a JavaScript-thread symbol. */
function category(symbol) {
  if (symbol.startsWith('[kernel]')) return 'kernel (system calls, network)'
  const js = /^JS:\S*\s+(\S+)/.exec(symbol)?.[1]
  if (js) {
    if (js.startsWith('node:')) return 'JavaScript: Node.js'
    const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(js)?.[1]
    if (pkg) return `JavaScript: ${pkg}`
    const own = /\/packages\/([^/]+)\//.exec(js)?.[1]
    return own ? `JavaScript: @backchannel/${own}` : 'JavaScript: other'
  }
  if (/Scaveng|MarkCompact|Heap::|GCTracer|Sweep|Evacuat/.test(symbol)) return 'V8 garbage collection'
  if (symbol.startsWith('Builtins_')) return 'V8 builtins (property access, Map, strings, promises)'
  if (symbol.includes('v8::')) return 'V8 runtime (JSON, strings, objects)'
  return 'native (libc, OpenSSL, Node.js C++)'
}

const ceiling = await measure('ceiling', 'contenders/ceiling.js', { PORT: '0' })
const gateway = await measure(`Backchannel, ${kind} store`, 'contenders/gateway-in-process.js', {
  ...storage,
  TOKENS: String(tokens.length),
  BACKCHANNEL_LOG_LEVEL: 'info',
})
redis?.stop()
await idp.close()
await rm(dir, { recursive: true, force: true })

const byCategory = (symbols) => {
  const totals = new Map()
  for (const [key, us] of symbols) {
    const [thread, symbol] = key.split('\t')
    const name = thread === 'main' ? category(symbol) : 'other threads (crypto pool, V8 compiler and GC helpers)'
    totals.set(name, (totals.get(name) ?? 0) + us)
  }
  return totals
}
const table = (a, b, limit) =>
  [...new Set([...a.keys(), ...b.keys()])]
    .map((k) => [k, a.get(k) ?? 0, b.get(k) ?? 0])
    .sort((x, y) => y[2] - y[1] - (x[2] - x[1]))
    .slice(0, limit)
    .map(
      ([k, x, y]) =>
        `| ${k.replace('\t', ': ').replaceAll('|', '\\|')} | ${x.toFixed(1)} | ${y.toFixed(1)} | ${(y - x).toFixed(1)} |`,
    )
const sum = (m) => [...m.values()].reduce((x, y) => x + y, 0)
const [c, g] = [byCategory(ceiling), byCategory(gateway)]
console.log(
  [
    `CPU per request (µs), perf cpu-clock at ${FREQUENCY} Hz; totals: ceiling ${sum(c).toFixed(0)}, gateway ${sum(g).toFixed(0)}`,
    '',
    '| where | ceiling | gateway | difference |',
    '| --- | ---: | ---: | ---: |',
    ...table(c, g, 30),
    '',
    'The JavaScript-thread symbols that differ most:',
    '',
    '| symbol | ceiling | gateway | difference |',
    '| --- | ---: | ---: | ---: |',
    ...table(
      new Map([...ceiling].filter(([k]) => k.startsWith('main'))),
      new Map([...gateway].filter(([k]) => k.startsWith('main'))),
      20,
    ),
  ].join('\n'),
)
