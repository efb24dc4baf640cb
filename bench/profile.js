// node profile.js [memory|fs|redis]: the gateway under load with --cpu-prof, then where its CPU
// time went, by package and by function (self time). For BENCHMARKS.md's explanations.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import { here, load, log, start, startRedis, storageEnv, warmUp } from './lib.js'

const kind = process.argv[2] ?? 'memory'
const idp = await startIssuer()
const tokens = await idp.mint(Number(process.env.BENCH_TOKENS ?? 30_000))
const dir = await mkdtemp(join(tmpdir(), 'bench-prof-'))
const redis = kind === 'redis' ? await startRedis() : undefined
const env = storageEnv(kind, { folder: join(dir, 'data'), redisUrl: redis?.url })
const server = await start([join(here, 'contenders/gateway-in-process.js')], {
  ...env,
  ISSUER: idp.issuer,
  CLIENT_ID,
  TOKENS: String(tokens.length),
  PROFILE_FILE: join(dir, 'gateway.cpuprofile'),
  BACKCHANNEL_LOG_LEVEL: 'info',
})
const result = await load(server.url, tokens, await warmUp(server.url, tokens))
await server.stop()
redis?.stop()
await idp.close()

const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'))
const profile = JSON.parse(await readFile(join(dir, file), 'utf8'))
if (process.env.PROFILE_KEEP) await writeFile(process.env.PROFILE_KEEP, JSON.stringify(profile))
await rm(dir, { recursive: true, force: true })

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map()
for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
const total = [...self.values()].reduce((a, b) => a + b, 0)
const where = (url) =>
  /node_modules\/\.pnpm\/([^/]+?)@/.exec(url)?.[1] ??
  /packages\/(\w+)\//.exec(url)?.[1]?.replace(/^/, '@backchannel/') ??
  (url.startsWith('node:') ? 'node' : url ? 'other' : '(native, gc, idle)')
const add = (map, key, t) => map.set(key, (map.get(key) ?? 0) + t)
const packages = new Map()
const functions = new Map()
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame
  add(packages, where(url), t)
  const short = url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^.*\/packages\//, '')
  add(functions, `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`, t)
}
const top = (map, n) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, t]) => `| ${k} | ${((100 * t) / total).toFixed(1)} % |`)
log(`${kind}: ${Math.round(result.rps)} requests/s, p99 ${result.p99} ms under the profiler`)
console.log(
  [
    '| package | self time |',
    '| --- | ---: |',
    ...top(packages, 12),
    '',
    '| function | self time |',
    '| --- | ---: |',
    ...top(functions, 25),
  ].join('\n'),
)
