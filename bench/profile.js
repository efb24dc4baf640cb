// node profile.js [memory|fs|redis] [cpu|survivors]: the gateway under load with one of V8's
// profilers, for BENCHMARKS.md's explanations.
// - cpu (the default): where its CPU time went, by package and by function (self time).
// - survivors: which code allocated the objects that outlived the young generation, in bytes per
//   request, by the three innermost frames. Objects that die young cost a scavenge little; those
//   that survive fill the old generation, and every major collection that follows stalls
//   requests (BENCHMARKS.md, seventh and eleventh rounds). What the stores keep is expected here;
//   anything else is worth a look.
// PROFILE_KEEP=file keeps the raw profile (.cpuprofile or .heapprofile, for Chrome's DevTools).
// BENCH_SMOKE=1: a second of load on 5,000 tokens (CI runs the survivors mode so).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import { here, load, log, SMOKE, start, startRedis, storageEnv, warmUp } from './lib.js'

const [kind = 'memory', mode = 'cpu'] = process.argv.slice(2)
if (mode !== 'cpu' && mode !== 'survivors') throw new Error(`unknown mode ${mode}: cpu or survivors`)
const idp = await startIssuer()
const tokens = await idp.mint(Number(process.env.BENCH_TOKENS ?? (SMOKE ? 5_000 : 60_000)))
const dir = await mkdtemp(join(tmpdir(), 'bench-prof-'))
const redis = kind === 'redis' ? await startRedis() : undefined
const env = storageEnv(kind, { folder: join(dir, 'data'), redisUrl: redis?.url })
const file = join(dir, 'gateway.profile')
const server = await start(
  [...(mode === 'survivors' ? ['--expose-gc'] : []), join(here, 'contenders/gateway-in-process.js')],
  {
    ...env,
    ISSUER: idp.issuer,
    CLIENT_ID,
    TOKENS: String(tokens.length),
    PROFILE_FILE: file,
    PROFILE_KIND: mode,
    BACKCHANNEL_LOG_LEVEL: 'info',
  },
)
const result = await load(server.url, tokens, await warmUp(server.url, tokens))
// Both profilers start once the sessions are registered: the requests profiled are these.
const requests = result.used
if (result.wrapped) log(`tokens ran out and were sent again (replays): give BENCH_TOKENS more than ${requests}`)
await server.stop()
redis?.stop()
await idp.close()

const profile = JSON.parse(await readFile(file, 'utf8'))
if (process.env.PROFILE_KEEP) await writeFile(process.env.PROFILE_KEEP, JSON.stringify(profile))
await rm(dir, { recursive: true, force: true })

const short = (url) => url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^.*\/packages\//, '')
const frame = ({ functionName, url, lineNumber }) => `${functionName || '(anonymous)'} ${short(url)}:${lineNumber + 1}`
const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value)
const top = (map, n, cell) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, value]) => `| ${key} | ${cell(value)} |`)
log(`${kind}: ${Math.round(result.rps)} requests/s, p99 ${result.p99} ms under the profiler`)

if (mode === 'cpu') {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map()
  for (const [i, id] of profile.samples.entries()) add(self, id, profile.timeDeltas[i] ?? 0)
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const where = (url) =>
    /node_modules\/\.pnpm\/([^/]+?)@/.exec(url)?.[1] ??
    /packages\/(\w+)\//.exec(url)?.[1]?.replace(/^/, '@backchannel/') ??
    (url.startsWith('node:') ? 'node' : url ? 'other' : '(native, gc, idle)')
  const packages = new Map()
  const functions = new Map()
  for (const [id, t] of self) {
    const { callFrame } = byId.get(id)
    add(packages, where(callFrame.url), t)
    add(functions, frame(callFrame), t)
  }
  const share = (t) => `${((100 * t) / total).toFixed(1)} %`
  console.log(
    [
      '| package | self time |',
      '| --- | ---: |',
      ...top(packages, 12, share),
      '',
      '| function | self time |',
      '| --- | ---: |',
      ...top(functions, 25, share),
    ].join('\n'),
  )
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
  const perRequest = (b) => Math.round(b / requests).toLocaleString('en')
  console.log(
    [
      `${requests.toLocaleString('en')} requests; ${perRequest(total)} bytes per request outlived the young generation`,
      '',
      '| allocated at (innermost frame first) | bytes per request |',
      '| --- | ---: |',
      ...top(sites, 20, perRequest),
    ].join('\n'),
  )
}
