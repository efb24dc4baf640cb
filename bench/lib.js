// What run.js and profile.js share: starting contenders, registering sessions, driving load.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { redisStore } from '@backchannel/unstorage/redis'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { CLIENT_ID } from './issuer.js'

export const SMOKE = process.env.BENCH_SMOKE === '1'
export const DURATION = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10))
export const CONNECTIONS = 50
export const WARMUP = 200
/**
 * Seconds under load before measuring (BENCH_WARMUP): until then V8 is still compiling the hot
 * path on its background threads — in a profile of the gateway measured after only WARMUP
 * requests, a sixth of the process's CPU went to the optimising compiler.
 */
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? (SMOKE ? 0.5 : 3))
export const here = fileURLToPath(new URL('.', import.meta.url))
export const BIN = join(here, '../packages/server/bin/backchannel.js')
const ADMIN = `bca_${randomBytes(24).toString('base64url')}`

export const log = (...args) => console.error(...args)

/** A whole number with thousands separators, for the reports' tables. */
export const fmt = (n) => Math.round(n).toLocaleString('en')

/** A gateway's `minor` or `major` collections (see {@link fixedRate}) for a table: `count, ms`. */
export const collectionsCell = (c, kind) => `${c?.[kind]?.count ?? 0}, ${fmt(c?.[kind]?.ms ?? 0)}`

/**
 * The gateway's environment for a store of `kind`: `memory`, `fs` in `folder`, or `redis` at
 * `redisUrl` (with a master key of its own).
 */
export const storageEnv = (kind, { folder, redisUrl } = {}) =>
  ({
    memory: { BACKCHANNEL_STORAGE: 'memory://' },
    fs: { BACKCHANNEL_STORAGE: `fs://${folder}` },
    redis: { BACKCHANNEL_STORAGE: redisUrl, BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url') },
  })[kind]

/**
 * Processes started here and still running. Killed when this process exits, also when a bench
 * fails half-way: an orphaned gateway or redis-server would skew every later run.
 */
const children = new Set()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})
const track = (child) => {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/**
 * Runs a node script; resolves with its URL once it prints "listening on URL". Its standard output
 * (the gateway's log lines; V8's with `--trace-gc`) is dropped, or written to the file `stdout`.
 */
export function start(args, env, { stdout } = {}) {
  const out = stdout ? openSync(stdout, 'w') : 'ignore'
  const child = track(
    spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, 'pipe'] }),
  )
  if (stdout) closeSync(out)
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr.on('data', (c) => {
      err += c
      const url = /listening on (http:\/\/\S+)/.exec(err)?.[1]
      if (url)
        resolve({
          url,
          pid: child.pid,
          stop: () =>
            new Promise((r) => {
              if (child.exitCode !== null) return r()
              child.once('exit', r)
              child.kill('SIGTERM')
            }),
        })
    })
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`)))
  })
}

export async function startRedis() {
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const server = await new Promise((resolve, reject) => {
    const child = track(
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']),
    )
    child.stdout.on('data', (c) => String(c).includes('Ready to accept') && resolve(child))
    child.once('error', reject)
  })
  return { url: `redis://127.0.0.1:${port}`, pid: server.pid, stop: () => server.kill('SIGKILL') }
}

export const tcall = (url, path, input) =>
  fetch(`${url}/trpc/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  }).then(async (r) => (r.ok ? r.json() : Promise.reject(new Error(`${path}: ${r.status} ${await r.text()}`))))

/** A gateway process with the bench app and one session per token (`options`: see {@link start}). */
export async function gateway(env, issuer, tokens, nodeArgs = [], options = {}) {
  const server = await start(
    [...nodeArgs, BIN, 'serve'],
    {
      PORT: '0',
      HOST: '127.0.0.1',
      BACKCHANNEL_ADMIN_TOKEN: ADMIN,
      BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'true',
      BACKCHANNEL_LOG_LEVEL: 'info',
      ...env,
    },
    options,
  )
  await tcall(server.url, 'apps.create', { name: 'bench', issuer, clientId: CLIENT_ID })
  // tRPC batches: 100 registrations per request.
  const batches = []
  for (let i = 0; i < tokens.length; i += 100) batches.push(i)
  for (let b = 0; b < batches.length; b += 8) {
    await Promise.all(
      batches.slice(b, b + 8).map((from) => {
        const count = Math.min(100, tokens.length - from)
        const body = Object.fromEntries(
          Array.from({ length: count }, (_, j) => [
            j,
            { app: 'bench', sessionId: `s-${from + j}`, sub: `user-${from + j}`, sid: `sid-${from + j}` },
          ]),
        )
        return tcall(server.url, `${Array(count).fill('sessions.register').join(',')}?batch=1`, body)
      }),
    )
  }
  return server
}

/**
 * CPU seconds a process has used so far, all its threads (its crypto thread pool too), or with
 * `mainThread` only its JavaScript thread, from /proc (Linux; clock ticks of 10 ms). `undefined`
 * elsewhere.
 */
export async function cpuSeconds(pid, { mainThread = false } = {}) {
  const path = mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`
  const stat = await readFile(path, 'utf8').catch(() => undefined)
  return stat ? ticksOf(statFields(stat)) / 100 : undefined
}

/** The fields of a /proc/<pid>/stat line after the command name (which is in parentheses). */
const statFields = (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ')

/** CPU clock ticks (10 ms) in {@link statFields}: user and system time (utime, stime). */
const ticksOf = (fields) => Number(fields[11]) + Number(fields[12])

/**
 * A request body per call, with the tokens from `from` on; past the last, again from WARMUP on
 * (`wrapped`: those tokens were used before, so the gateway answers them as replays).
 */
function bodies(tokens, from) {
  const cursor = {
    used: from,
    wrapped: false,
    next() {
      if (cursor.used >= tokens.length) {
        cursor.used = WARMUP
        cursor.wrapped = true
      }
      return `logout_token=${tokens[cursor.used++]}`
    },
  }
  return cursor
}

/** Drives `url` with the tokens from `from` on, one per request. */
export async function load(url, tokens, from, options = {}) {
  const cursor = bodies(tokens, from)
  const result = await autocannon({
    url: `${url}/auth/logout/bench`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: cursor.next() }),
      },
    ],
    ...options,
  })
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    used: cursor.used,
    wrapped: cursor.wrapped,
  }
}

/**
 * The machine's CPU time so far, in clock ticks, and how much of it the hypervisor gave to other
 * guests ("steal", /proc/stat; Linux). `undefined` elsewhere.
 */
async function machineTicks() {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n').find((l) => l.startsWith('cpu '))
  if (!line) return undefined
  const fields = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is in user's.
  return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), idle: fields[3] + fields[4], steal: fields[7] }
}

/** The share of the machine's CPU time the hypervisor took between two {@link machineTicks}. */
const stealSince = (before, after) => after && before && (after.steal - before.steal) / (after.total - before.total)

/** CPU seconds so far over every thread of the processes `pids`, and of this one too with `self`. */
export async function cpuOf(pids, { self = false } = {}) {
  const { user, system } = self ? process.cpuUsage() : { user: 0, system: 0 }
  const others = await Promise.all(pids.map((pid) => cpuSeconds(pid)))
  return others.reduce((a, b) => a + (b ?? Number.NaN), (user + system) / 1e6)
}

/**
 * {@link load} from token `from` on (or what `drive` runs instead, which resolves to a result with
 * `requests`, the number it made), with the CPU each request cost: `serverUs` over every thread of
 * `pids` (the contender first, then e.g. its redis-server), `mainUs` the contender's JavaScript
 * thread alone (the one every request waits for; its crypto thread pool is not in it), and
 * `loaderUs` this process's, which is almost all the load generator's. In µs per request. `steal`:
 * the share of the machine's CPU time the hypervisor gave to other guests meanwhile (0 to 1; on a
 * shared virtual machine, figures measured while it is high are not comparable).
 */
export async function measuredLoad(url, tokens, from, pids, drive = () => load(url, tokens, from)) {
  const server = () => cpuOf(pids)
  const main = () => cpuSeconds(pids[0], { mainThread: true })
  const before = { server: await server(), main: await main(), own: process.cpuUsage(), machine: await machineTicks() }
  const result = await drive()
  const perRequest = (seconds) => (seconds * 1e6) / result.requests
  const own = process.cpuUsage(before.own)
  return {
    steal: stealSince(before.machine, await machineTicks()),
    ...result,
    serverUs: perRequest((await server()) - before.server),
    mainUs: perRequest((await main()) - before.main),
    loaderUs: perRequest((own.user + own.system) / 1e6),
  }
}

/** The median, 99th percentile and largest of `latencies` (ms), to 0.1 ms. Sorts them in place. */
export function quantiles(latencies) {
  latencies.sort((a, b) => a - b)
  const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10
  return { p50: at(0.5), p99: at(0.99), max: at(1) }
}

/**
 * What a gateway says of itself on /metrics (prom-client's default metrics): the longest delay of
 * its event loop since the last scrape (each scrape starts a new period), in ms beyond the 10 ms
 * timer it is measured with, and its garbage collections so far, seconds and count by kind.
 * `undefined` for a contender without /metrics (the ceiling, the peer).
 */
async function selfReport(url) {
  const res = await fetch(`${url}/metrics`).catch(() => undefined)
  if (!res?.ok) return undefined
  const text = await res.text()
  const loop = /^backchannel_process_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)
  const gc = {}
  for (const [, stat, kind, value] of text.matchAll(
    /^backchannel_process_nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$/gm,
  )) {
    gc[kind] ??= { sum: 0, count: 0 }
    gc[kind][stat] = Number(value)
  }
  return { loopMs: loop ? Math.max(0, Number(loop[1]) * 1000 - 10) : undefined, gc }
}

/** Collections between two {@link selfReport}s: `{ kind: { count, ms } }`. */
function collectionsSince(before, after) {
  if (!before || !after) return undefined
  return Object.fromEntries(
    Object.entries(after.gc).map(([kind, { sum, count }]) => [
      kind,
      { count: count - (before.gc[kind]?.count ?? 0), ms: (sum - (before.gc[kind]?.sum ?? 0)) * 1000 },
    ]),
  )
}

/**
 * Load at a fixed `rate` (requests/s), open loop: request i leaves at start + i/rate whether or not
 * earlier ones were answered, over a pool of keep-alive connections, and its latency counts from
 * that planned moment (so a stall delays every request it holds back; no coordinated omission).
 * autocannon's rate options cannot do this: they give each connection a budget per second, which
 * it spends at full speed as each second begins, so its "fixed rate" is bursts of maximum load.
 * The first `settle` seconds at that rate are not measured: they are the aftermath of whatever ran
 * before (in run.js, a full-speed run), not the steady state.
 *
 * To tell whose a stall is, it also reports the longest delay of this process's event loop (the
 * load generator's: a late send or a late read counts as latency) and, for a gateway, of the
 * gateway's own (`selfReport`) with its collections. With `timeline` (a file path) and `pid` (the
 * contender's), it writes a CSV of every 100 ms: the slowest request planned in it, the load
 * generator's longest event-loop delay and CPU, the contender's CPU and its page faults that
 * waited for the disk, the busiest other process, and the machine's busy, idle and stolen time.
 * With `folder` (an fs store's data folder), also whether its journal was being rewritten (its
 * `journal.next` there): a rewrite slows the fs store's requests (BENCHMARKS.md, eighth round).
 */
export async function fixedRate(
  url,
  tokens,
  from,
  rate,
  seconds,
  { pid, timeline, folder, settle = SMOKE ? 0.2 : 2 } = {},
) {
  // fifo: every connection stays in use. With the default (lifo) the least used ones idled past
  // the server's keep-alive timeout, and reusing one as the server closed it failed (ECONNRESET).
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, scheduling: 'fifo' })
  const target = new URL('/auth/logout/bench', url)
  const skipped = Math.round(rate * settle)
  const total = skipped + Math.round(rate * seconds)
  const latencies = new Float64Array(total - skipped)
  /** Failed requests by what failed: `HTTP <status>` or the socket error's code. */
  const errors = {}
  let sent = 0
  let done = 0
  const cursor = bodies(tokens, from)
  const ownLoop = monitorEventLoopDelay({ resolution: 1 })
  let machine
  let gateway
  let ownCpu
  const windows = []
  let sampling
  await new Promise((resolve) => {
    const start = performance.now()
    const due = (i) => start + (i * 1000) / rate
    const finish = (i, failure) => {
      if (i >= skipped) latencies[i - skipped] = performance.now() - due(i)
      if (failure) errors[failure] = (errors[failure] ?? 0) + 1
      if (++done === total) resolve()
    }
    const send = (i) => {
      let answered = false
      const answer = (failure) => {
        if (answered) return
        answered = true
        finish(i, failure)
      }
      const body = cursor.next()
      const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }
      const req = http.request(target, { method: 'POST', agent, headers, timeout: 10_000 }, (res) => {
        res.resume()
        res.once('end', () =>
          answer(res.statusCode >= 200 && res.statusCode < 300 ? undefined : `HTTP ${res.statusCode}`),
        )
      })
      req.once('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'timeout' })))
      req.once('error', (err) => answer(err.code ?? err.message))
      req.end(body)
    }
    const measureFrom = async () => {
      ownLoop.enable()
      ownCpu = process.cpuUsage()
      ;[machine, gateway] = await Promise.all([machineTicks(), selfReport(url)])
      if (timeline && pid) sampling = sample(windows, ownLoop, folder && join(folder, 'journal.next'))
    }
    // Timers fire at best every millisecond: each tick sends every request whose moment has come.
    const tick = () => {
      const now = performance.now()
      while (sent < total && due(sent) <= now) {
        if (sent === skipped) measureFrom()
        send(sent++)
      }
      if (sent < total) setTimeout(tick, 1)
    }
    tick()
  })
  const loader = process.cpuUsage(ownCpu)
  const [machineAfter, gatewayAfter] = await Promise.all([machineTicks(), selfReport(url)])
  ownLoop.disable()
  agent.destroy()
  if (sampling) {
    sampling.stop()
    await writeFile(timeline, timelineCsv(windows, latencies, rate, settle, pid))
  }
  return {
    steal: stealSince(machine, machineAfter),
    rate,
    requests: latencies.length,
    ...quantiles(latencies.slice()),
    errors: Object.values(errors).reduce((a, b) => a + b, 0),
    errorKinds: errors,
    loaderUs: (loader.user + loader.system) / latencies.length,
    loaderLoopMs: Math.round(ownLoop.max / 1e5) / 10,
    gatewayLoopMs: gatewayAfter?.loopMs === undefined ? undefined : Math.round(gatewayAfter.loopMs * 10) / 10,
    collections: collectionsSince(gateway, gatewayAfter),
    used: cursor.used,
    wrapped: cursor.wrapped,
  }
}

/**
 * CPU ticks of every process on the machine so far, by pid, from /proc (Linux). Read synchronously:
 * a scan takes about a millisecond, where dozens of asynchronous reads through libuv's thread pool
 * every 100 ms doubled this process's CPU per request and its p99.
 */
function processTicks() {
  const ticks = new Map()
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      continue // gone meanwhile
    }
    const fields = statFields(stat)
    ticks.set(Number(pid), {
      name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      ticks: ticksOf(fields),
      // Page faults that waited for the disk (majflt): the process stood still, using no CPU.
      majorFaults: Number(fields[9]),
    })
  }
  return ticks
}

/**
 * Every 100 ms: every process's CPU (the contender's among them), this process's, the machine's,
 * this process's longest event-loop delay, and whether the file `nextJournal` (a journal
 * rewrite's output) exists.
 */
function sample(windows, ownLoop, nextJournal) {
  const read = async () => {
    const all = await machineTicks()
    windows.push({
      at: performance.now(),
      epoch: Date.now(),
      processes: processTicks(),
      own: process.cpuUsage(),
      all,
      loopMs: ownLoop.max / 1e6,
      rewriting: nextJournal ? Number(existsSync(nextJournal)) : '',
    })
    ownLoop.reset()
  }
  read()
  const timer = setInterval(read, 100)
  return { stop: () => clearInterval(timer) }
}

function timelineCsv(windows, latencies, rate, settle, pid) {
  const tick = 10 // ms per clock tick
  const rows = [
    'ms,slowest_request_ms,loader_loop_ms,contender_cpu_ms,contender_major_faults,loader_cpu_ms,busiest_other_process_ms,machine_busy_ms,idle_ms,steal_ms,journal_rewriting',
  ]
  const first = windows[0]?.at
  for (let w = 1; w < windows.length; w++) {
    const [a, b] = [windows[w - 1], windows[w]]
    // Requests planned in this window, counted from the end of the settling period.
    const from = Math.floor(((a.at - first) / 1000) * rate)
    const to = Math.min(latencies.length, Math.floor(((b.at - first) / 1000) * rate))
    let slowest = 0
    for (let i = from; i < to; i++) slowest = Math.max(slowest, latencies[i])
    const idle = b.all.idle - a.all.idle
    const steal = b.all.steal - a.all.steal
    let busiest = { name: '-', ticks: 0 }
    for (const [other, { name, ticks }] of b.processes) {
      if (other === pid || other === process.pid) continue
      const used = ticks - (a.processes.get(other)?.ticks ?? ticks)
      if (used > busiest.ticks) busiest = { name, ticks: used }
    }
    rows.push(
      [
        Math.round(a.at - first),
        slowest.toFixed(1),
        b.loopMs.toFixed(1),
        ((b.processes.get(pid)?.ticks ?? 0) - (a.processes.get(pid)?.ticks ?? 0)) * tick,
        (b.processes.get(pid)?.majorFaults ?? 0) - (a.processes.get(pid)?.majorFaults ?? 0),
        Math.round((b.own.user + b.own.system - a.own.user - a.own.system) / 1000),
        `${busiest.name} ${busiest.ticks * tick}`,
        (b.all.total - a.all.total - idle - steal) * tick,
        idle * tick,
        steal * tick,
        b.rewriting,
      ].join(','),
    )
  }
  return `# ${rate} requests/s after ${settle} s unmeasured; ms counted from ${new Date(windows[0]?.epoch).toISOString()}\n${rows.join('\n')}\n`
}

/**
 * WARMUP requests one at a time, each of which must succeed, then WARMUP_SECONDS under load.
 * Resolves with the first token not used, where the measured load starts.
 */
export async function warmUp(url, tokens) {
  for (let i = 0; i < WARMUP; i++) {
    const res = await fetch(`${url}/auth/logout/bench`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${tokens[i]}`,
    })
    if (res.status < 200 || res.status > 299) throw new Error(`warm-up answered ${res.status}: ${await res.text()}`)
  }
  const { used, errors } = await load(url, tokens, WARMUP, { duration: WARMUP_SECONDS })
  if (errors > 0) throw new Error(`${errors} errors while warming up under load`)
  return used
}

export async function timeToReady() {
  const dir = await mkdtemp(join(tmpdir(), 'bench-ready-'))
  const t0 = performance.now()
  const server = await start([BIN, 'serve'], {
    PORT: '0',
    HOST: '127.0.0.1',
    BACKCHANNEL_STORAGE: `fs://${dir}`,
    BACKCHANNEL_LOG_LEVEL: 'warn',
  })
  while ((await fetch(`${server.url}/readyz`).catch(() => ({ status: 0 }))).status !== 200)
    await new Promise((r) => setTimeout(r, 5))
  const ms = performance.now() - t0
  await server.stop()
  await rm(dir, { recursive: true, force: true })
  return ms
}

export async function redisMemoryPerSession(url, count) {
  const raw = new Redis(url)
  await raw.flushall()
  const used = async () => Number(/used_memory:(\d+)/.exec(await raw.info('memory'))[1])
  const before = await used()
  const store = redisStore({ url, masterKey: randomBytes(32), base: 'mem' })
  for (let i = 0; i < count; i += 2000) {
    await Promise.all(
      Array.from({ length: Math.min(2000, count - i) }, (_, j) =>
        store.register({
          app: 'mem',
          iss: 'https://id.example.com',
          sessionId: `s-${i + j}`,
          sub: `user-${i + j}`,
          sid: `sid-${i + j}`,
        }),
      ),
    )
  }
  const perSession = ((await used()) - before) / count
  await store.close()
  await raw.flushall()
  raw.disconnect()
  return perSession
}
