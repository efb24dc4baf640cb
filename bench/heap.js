// node heap.js: what the memory and fs stores' state costs the JavaScript heap — bytes
// per registered session and per logout, and how long one full garbage collection of that heap
// takes (all of its marking and sweeping at once, on the main thread: under load V8 spreads the
// same work over incremental steps and helper threads, and the steps are what hold requests up).
// Both presets keep the same state in memory (the fs preset also journals it); this measures the
// memory preset. BENCH_SESSIONS (default 100,000) sessions, then a logout of half of them as the
// gateway does one: a replay claim, a sid revocation, an audit record (BENCH_SMOKE=1: 2,000).
// Needs `pnpm build`.
import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { replayKey } from '@backchannel/core'
import { memoryStore } from '@backchannel/unstorage/memory'

// V8's gc(), without asking for --expose-gc on the command line.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')
const SMOKE = process.env.BENCH_SMOKE === '1'
const N = Number(process.env.BENCH_SESSIONS ?? (SMOKE ? 2_000 : 100_000))
const app = 'bench'
const iss = 'https://id.example.com'

/** Heap in use after full collections, and how long the last one took (ms). */
function collect() {
  gc()
  const t0 = performance.now()
  gc()
  const ms = performance.now() - t0
  return { used: process.memoryUsage().heapUsed, ms }
}

/** `each(i)` for i in [0, count), 1,000 at a time. */
async function inBatches(count, each) {
  for (let i = 0; i < count; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, count - i) }, (_, j) => each(i + j)))
  }
}

const store = memoryStore()
const empty = collect()
await inBatches(N, (i) => store.register({ app, iss, sessionId: `s-${i}`, sub: `user-${i}`, sid: `sid-${i}` }))
const registered = collect()
const t = Date.now() / 1000
await inBatches(N / 2, async (i) => {
  const [jti, sub, sid] = [randomUUID(), `user-${i}`, `sid-${i}`]
  await store.claim(replayKey(app, iss, jti), t + 600)
  await store.revoke({ app, iss, sub, sid, scope: 'session', issuedAt: t, jti })
  await store.audit.record({ app, source: 'backchannel', outcome: 'revoked', iss, sid, sub, revoked: 1 })
})
const loggedOut = collect()
await store.close()

// Not lib.js's fmt: importing lib.js would load autocannon and ioredis into the heap measured here.
const fmt = (n) => Math.round(n).toLocaleString('en')
console.log(
  [
    `memory preset, ${fmt(N)} sessions, then ${fmt(N / 2)} logouts; node ${process.version}`,
    '',
    '| state | heap in use (MB) | per session or logout (bytes) | one full collection (ms) |',
    '| --- | ---: | ---: | ---: |',
    `| empty store | ${(empty.used / 1e6).toFixed(1)} | - | ${empty.ms.toFixed(1)} |`,
    `| ${fmt(N)} sessions registered | ${(registered.used / 1e6).toFixed(1)} | ${fmt((registered.used - empty.used) / N)} per session | ${registered.ms.toFixed(1)} |`,
    `| and ${fmt(N / 2)} of them logged out | ${(loggedOut.used / 1e6).toFixed(1)} | ${fmt((loggedOut.used - registered.used) / (N / 2))} per logout | ${loggedOut.ms.toFixed(1)} |`,
  ].join('\n'),
)
