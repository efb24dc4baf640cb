// node bench/profile.js [memory|fs|redis] [cpu|survivors] [keep-file]: `backchannel serve` under
// load as in run.js, with one of V8's profilers over the measured seconds only, to explain figures.
// - cpu (the default): self time by package and by function.
// - survivors: bytes per request that outlived the young generation, by allocation site (the three
//   innermost frames). What survives fills the old generation, whose major collections stall
//   requests; what a store keeps is expected there, anything else is worth a look.
// keep-file: also writes the raw profile there (open it in Chrome's DevTools).
// Given to the gateway with --import, this file is the profiler's switch inside it instead: a
// SIGUSR2 starts the profiler, the next one writes the profile to BENCH_PROFILE_FILE.
import { existsSync, renameSync, writeFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const self = fileURLToPath(import.meta.url)
if (process.argv[1] === self) await main()
else await hook()

async function hook() {
  const { Session } = await import('node:inspector/promises')
  const survivors = process.env.BENCH_PROFILE_KIND === 'survivors'
  const session = new Session()
  session.connect()
  let running = false
  process.on('SIGUSR2', async () => {
    if (!running) {
      running = true
      if (!survivors) return session.post('Profiler.enable').then(() => session.post('Profiler.start'))
      await session.post('HeapProfiler.enable')
      return session.post('HeapProfiler.startSampling', {
        samplingInterval: 8192,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: false,
      })
    }
    // Two minor collections first drop the young garbage still in the heap.
    if (survivors) for (let i = 0; i < 2; i++) globalThis.gc({ type: 'minor' })
    const { profile } = await session.post(survivors ? 'HeapProfiler.stopSampling' : 'Profiler.stop')
    const file = process.env.BENCH_PROFILE_FILE
    writeFileSync(`${file}.part`, JSON.stringify(profile))
    renameSync(`${file}.part`, file)
  })
}

async function main() {
  const { startIssuer } = await import('./issuer.js')
  const { gateway, load, log, SMOKE, startRedis, storageEnv, tempDir, warmUp } = await import('./lib.js')
  const [kind = 'memory', mode = 'cpu', keep] = process.argv.slice(2)
  if (mode !== 'cpu' && mode !== 'survivors') throw new Error(`unknown mode ${mode}: cpu or survivors`)
  const idp = await startIssuer()
  const tokens = await idp.mint(SMOKE ? 5_000 : 60_000)
  const dir = await tempDir('bench-profile-')
  const redis = kind === 'redis' ? await startRedis() : undefined
  const file = join(dir, 'profile.json')
  const env = { ...storageEnv(kind, { folder: join(dir, 'data'), url: redis?.url }), BENCH_PROFILE_FILE: file }
  const nodeArgs = ['--expose-gc', '--import', pathToFileURL(self).href]
  const server = await gateway({ ...env, BENCH_PROFILE_KIND: mode }, idp.issuer, tokens, { nodeArgs })
  const from = await warmUp(server.url, tokens)
  process.kill(server.pid, 'SIGUSR2')
  const result = await load(server.url, tokens, from)
  process.kill(server.pid, 'SIGUSR2')
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 50))
  await server.stop()
  await redis?.stop()
  await idp.close()
  const profile = JSON.parse(await readFile(file, 'utf8'))
  if (keep) writeFileSync(keep, JSON.stringify(profile))
  await rm(dir, { recursive: true, force: true })
  log(`${kind}: ${Math.round(result.rps)} requests/s, p99 ${result.p99} ms under the profiler`)
  if (result.wrapped) log('tokens ran out and were sent again (replays)')

  const short = (url) =>
    url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^.*\/packages\//, '')
  const frame = ({ functionName, url, lineNumber }) =>
    `${functionName || '(anonymous)'} ${short(url)}:${lineNumber + 1}`
  const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value)
  const top = (map, n, cell) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, value]) => `| ${key} | ${cell(value)} |`)
  const lines = []
  if (mode === 'cpu') {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const where = (url) =>
      /node_modules\/\.pnpm\/([^/]+?)@/.exec(url)?.[1] ??
      /packages\/(\w+)\//.exec(url)?.[1]?.replace(/^/, '@backchannel/') ??
      (url.startsWith('node:') ? 'node' : url ? 'other' : '(native, gc, idle)')
    const [packages, functions] = [new Map(), new Map()]
    let total = 0
    for (const [i, id] of profile.samples.entries()) {
      const t = profile.timeDeltas[i] ?? 0
      const { callFrame } = byId.get(id)
      add(packages, where(callFrame.url), t)
      add(functions, frame(callFrame), t)
      total += t
    }
    const share = (t) => `${((100 * t) / total).toFixed(1)} %`
    lines.push('| package | self time |', '| --- | ---: |', ...top(packages, 12, share), '')
    lines.push('| function | self time |', '| --- | ---: |', ...top(functions, 25, share))
  } else {
    // Each sample stands for about samplingInterval bytes, allocated at its node's stack.
    const bytes = new Map()
    for (const { nodeId, size } of profile.samples) add(bytes, nodeId, size)
    const sites = new Map()
    const walk = (node, stack) => {
      const frames = [frame(node.callFrame), ...stack].slice(0, 3)
      if (bytes.has(node.id)) add(sites, frames.join(' ← '), bytes.get(node.id))
      for (const child of node.children) walk(child, frames)
    }
    walk(profile.head, [])
    const total = [...bytes.values()].reduce((a, b) => a + b, 0)
    const perRequest = (b) => Math.round(b / result.requests).toLocaleString('en')
    lines.push(`${result.requests} requests; ${perRequest(total)} bytes per request outlived the young generation`, '')
    lines.push(
      '| allocated at (innermost frame first) | bytes per request |',
      '| --- | ---: |',
      ...top(sites, 20, perRequest),
    )
  }
  console.log(lines.join('\n'))
}
