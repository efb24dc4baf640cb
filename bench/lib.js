// What run.js and profile.js share: processes on loopback (the gateway with its sessions,
// redis-server, PostgreSQL), load (full speed and at a fixed rate) and CPU read from /proc.
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import autocannon from 'autocannon'
import { startPostgres as startPostgresServer } from '../test/postgres-server.js'
import { CLIENT_ID, SSF_AUDIENCE } from './issuer.js'

export const SMOKE = process.env.BENCH_SMOKE === '1'
/** Seconds of each measured run (full speed, then paced). */
export const DURATION = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10))
export const CONNECTIONS = 50
const WARMUP = 200
/** Seconds under load before measuring: V8 is still optimising the hot path until then. */
const WARMUP_SECONDS = SMOKE ? 0.5 : 3
export const here = fileURLToPath(new URL('.', import.meta.url))
/** The checkout this suite belongs to (its root folder). */
export const CHECKOUT = join(here, '..')
/** A checkout's gateway command (built). */
export const binOf = (checkout) => join(checkout, 'packages/server/bin/backchannel.js')
const ADMIN = `bca_${randomBytes(24).toString('base64url')}`

/** Progress on stderr, with the seconds since the start (where a run's time goes). */
export const log = (...args) => console.error(`[${Math.round(performance.now() / 1000)} s]`, ...args)
/** A whole number with thousands separators, for the tables. */
export const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '-')
export const tempDir = (prefix) => mkdtemp(join(tmpdir(), prefix))

/** The gateway's environment for a store: `memory`, `fs` in `folder`, or `redis`/`postgres` at `url`. */
export function storageEnv(kind, { folder, url } = {}) {
  if (kind === 'memory') return { BACKCHANNEL_STORAGE: 'memory://' }
  if (kind === 'fs') return { BACKCHANNEL_STORAGE: `fs://${folder}` }
  // Shared storage: the gateway requires a master key.
  return { BACKCHANNEL_STORAGE: url, BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url') }
}

// Killed when this process exits, also half-way through: an orphaned server skews later runs.
const children = new Set()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})
const track = (child) => {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** Runs a node script; resolves once it prints "listening on URL" on stderr. */
export function start(args, env) {
  const child = track(
    spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }),
  )
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr.on('data', (c) => {
      err += c
      const url = /listening on (http:\/\/\S+)/.exec(err)?.[1]
      if (url) resolve({ url, pid: child.pid, stop: () => stop(child) })
    })
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`)))
  })
}

/** Runs a node script to its end; resolves with its standard output (its stderr passes through). */
export function output(args, env) {
  const child = track(
    spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }),
  )
  let out = ''
  child.stdout.on('data', (c) => {
    out += c
  })
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited with ${code}`)),
    ),
  )
}

const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once('exit', resolve)
    child.kill('SIGTERM')
  })

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/** A redis-server on a loopback port, without persistence. `flush()` empties it. */
export async function startRedis() {
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = track(spawn('redis-server', args))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => String(c).includes('Ready to accept') && resolve())
    child.once('error', reject)
  })
  const flush = () => promisify(execFile)('redis-cli', ['-p', String(port), 'flushall'])
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, flush, stop: () => stop(child) }
}

/**
 * A PostgreSQL cluster of its own in a fresh folder, on a loopback port (the tests' server,
 * test/postgres-server.js). `synchronous_commit=off`: a commit does all its work (WAL written,
 * fsync kept on) but does not wait for the disk, as redis-server here does not. `database()`
 * creates an empty database and resolves with its URL.
 */
export async function startPostgres() {
  const server = await startPostgresServer({ settings: ['synchronous_commit=off'] })
  const psql = (sql) => promisify(execFile)('psql', [server.url, '-Atqc', sql]).then((r) => r.stdout.trim())
  let databases = 0
  return {
    version: server.version,
    pid: server.pid,
    async database() {
      const name = `bench_${++databases}`
      await psql(`CREATE DATABASE ${name}`)
      return server.url.replace(/\/postgres$/, `/${name}`)
    },
    stop: server.remove,
  }
}

const tcall = (url, path, input) =>
  fetch(`${url}/trpc/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  }).then(async (r) => (r.ok ? r.json() : Promise.reject(new Error(`${path}: ${r.status} ${await r.text()}`))))

/**
 * `backchannel serve` of `checkout` (default: this one; node flags `nodeArgs`) with the app
 * `bench` (with `relays`, if given) and one session per token. With `stream`, also the Shared
 * Signals stream `bench` from `issuer` feeding that app: the server's `request` then pushes SETs to it.
 */
export async function gateway(env, issuer, tokens, { nodeArgs = [], checkout = CHECKOUT, relays, stream } = {}) {
  const server = await start([...nodeArgs, binOf(checkout), 'serve'], {
    PORT: '0',
    HOST: '127.0.0.1',
    BACKCHANNEL_ADMIN_TOKEN: ADMIN,
    BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'true',
    BACKCHANNEL_LOG_LEVEL: 'info',
    ...env,
  })
  await tcall(server.url, 'apps.create', { name: 'bench', issuer, clientId: CLIENT_ID, ...(relays && { relays }) })
  // tRPC batches of 100 registrations, 8 batches at a time.
  for (let from = 0; from < tokens.length; from += 800) {
    const batches = []
    for (let b = from; b < Math.min(from + 800, tokens.length); b += 100) {
      const ids = Array.from({ length: Math.min(100, tokens.length - b) }, (_, j) => b + j)
      const body = Object.fromEntries(
        ids.map((i, j) => [j, { app: 'bench', sessionId: `s-${i}`, sub: `user-${i}`, sid: `sid-${i}` }]),
      )
      batches.push(tcall(server.url, `${ids.map(() => 'sessions.register').join(',')}?batch=1`, body))
    }
    await Promise.all(batches)
  }
  if (!stream) return server
  const { result } = await tcall(server.url, 'streams.create', {
    name: 'bench',
    issuer,
    apps: ['bench'],
    audience: SSF_AUDIENCE,
  })
  return { ...server, request: pushRequest(result.data.authorizationHeader) }
}

/** The fields of /proc/PID/stat after the command name (in parentheses): [0] is the state. */
const statOf = async (pid) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** `roots` and all their descendants, from the parent pid of every process in /proc. */
async function processTree(roots) {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name))
  const children = new Map()
  for (const [pid, fields] of await Promise.all(pids.map(async (pid) => [Number(pid), await statOf(pid)]))) {
    if (fields) children.set(Number(fields[1]), [...(children.get(Number(fields[1])) ?? []), pid])
  }
  const tree = [...roots]
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []))
  return tree
}

/**
 * CPU seconds used so far by every thread of each process under `roots` (workers of a cluster,
 * PostgreSQL's server processes), by pid, from /proc (Linux). With the CPU of children they have
 * reaped: processes that came and went count in their parent.
 */
export async function cpuByPid(roots) {
  const tree = await processTree(roots)
  const seconds = new Map()
  for (const [pid, fields] of await Promise.all(tree.map(async (pid) => [pid, await statOf(pid)]))) {
    // utime, stime, cutime, cstime: 10 ms clock ticks.
    if (fields) seconds.set(pid, fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) / 100)
  }
  return seconds
}

/** CPU seconds under `roots` since `before` ({@link cpuByPid}); a process born since counts whole. */
export const cpuSince = async (before, roots) =>
  [...(await cpuByPid(roots))].reduce((sum, [pid, seconds]) => sum + seconds - (before.get(pid) ?? 0), 0)

/** The machine's CPU ticks so far and those the hypervisor gave to other guests (steal). */
async function machineTicks() {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n').find((l) => l.startsWith('cpu '))
  if (!line) return undefined
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number)
  return { total: f.reduce((a, b) => a + b, 0), steal: f[7] }
}

/** Runs `drive()` and adds `steal`, the share (0 to 1) of the machine's CPU stolen meanwhile. */
async function withSteal(drive) {
  const before = await machineTicks()
  const result = await drive()
  const after = await machineTicks()
  return { ...result, steal: before && after ? (after.steal - before.steal) / (after.total - before.total) : undefined }
}

/**
 * What one load request is: where it goes, its headers, its body from one token. The default is
 * a back-channel logout to the app `bench`; a contender's server may bring its own (`request`).
 */
export const LOGOUT_REQUEST = {
  path: '/auth/logout/bench',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: (token) => `logout_token=${token}`,
}

/** A Security Event Token pushed to the stream `bench` (RFC 8935), with its `Authorization`. */
export const pushRequest = (authorization) => ({
  path: '/ssf/bench',
  headers: { 'content-type': 'application/secevent+jwt', authorization },
  body: (token) => token,
})

/**
 * Request bodies from token `from` on; past the last, again from WARMUP (`wrapped`: replays).
 * `used - 1` is the index of the token just returned.
 */
function bodies(tokens, from, request = LOGOUT_REQUEST) {
  const cursor = {
    used: from,
    wrapped: false,
    next() {
      if (cursor.used >= tokens.length) Object.assign(cursor, { used: WARMUP, wrapped: true })
      return request.body(tokens[cursor.used++])
    },
  }
  return cursor
}

/** autocannon at full speed on `url`, one token per request from `from` on. */
export async function load(url, tokens, from, duration = DURATION, request = LOGOUT_REQUEST) {
  const cursor = bodies(tokens, from, request)
  const result = await autocannon({
    url: `${url}${request.path}`,
    method: 'POST',
    connections: CONNECTIONS,
    duration,
    headers: request.headers,
    requests: [{ setupRequest: (req) => ({ ...req, body: cursor.next() }) }],
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

/** {@link load}, with the CPU per request (µs) of the processes under `roots` and the steal. */
export async function measuredLoad(url, tokens, from, roots, request = LOGOUT_REQUEST) {
  const before = await cpuByPid(roots)
  const result = await withSteal(() => load(url, tokens, from, DURATION, request))
  return { ...result, serverUs: ((await cpuSince(before, roots)) * 1e6) / result.requests }
}

/** The gateway's major collections so far, from its /metrics (undefined for other contenders). */
async function majorCollections(url) {
  const text = await fetch(`${url}/metrics`)
    .then((r) => (r.ok ? r.text() : undefined))
    .catch(() => undefined)
  // No line for major collections until the first one. Older builds (BENCH_BASELINE) name it with a prefix.
  const m = /^(?:backchannel_process_)?nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)$/m.exec(text ?? '')
  return text === undefined ? undefined : Number(m?.[1] ?? 0)
}

/**
 * `rate` requests/s for DURATION seconds, open loop: request i leaves at start + i/rate whether or
 * not earlier ones were answered, and its latency counts from then (no coordinated omission;
 * autocannon's rate option sends each second's budget in a burst). The first 2 s settle after
 * whatever ran before and are not measured. Latencies in ms, to 0.1 ms. `onAnswer(token, at)`: called
 * for each 2xx with the index of its token and the `performance.now()` of its answer.
 */
export async function fixedRate(url, tokens, from, rate, { onAnswer } = {}) {
  // fifo: every connection stays in use; idle ones outlived the server's keep-alive (ECONNRESET).
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, scheduling: 'fifo' })
  const target = new URL('/auth/logout/bench', url)
  const skipped = Math.round(rate * (SMOKE ? 0.2 : 2))
  const total = skipped + Math.round(rate * DURATION)
  const latencies = new Float64Array(total - skipped)
  const cursor = bodies(tokens, from)
  let errors = 0
  let majorBefore
  const result = await withSteal(
    () =>
      new Promise((resolve) => {
        const t0 = performance.now()
        const due = (i) => t0 + (i * 1000) / rate
        let [sent, done] = [0, 0]
        const finish = (i, ok) => {
          if (i >= skipped) latencies[i - skipped] = performance.now() - due(i)
          if (!ok) errors++
          if (++done === total) resolve()
        }
        const send = (i) => {
          const body = cursor.next()
          const token = cursor.used - 1
          const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length }
          const req = http.request(target, { method: 'POST', agent, headers, timeout: 10_000 }, (res) => {
            res.resume().once('end', () => {
              const ok = res.statusCode >= 200 && res.statusCode < 300
              if (ok) onAnswer?.(token, performance.now())
              finish(i, ok)
            })
          })
          req.once('timeout', () => req.destroy(new Error('timed out')))
          req.once('error', () => finish(i, false))
          req.end(body)
        }
        // Timers fire at best every millisecond: each tick sends every request whose moment has come.
        const tick = () => {
          for (const now = performance.now(); sent < total && due(sent) <= now; sent++) {
            if (sent === skipped) majorCollections(url).then((n) => (majorBefore = n))
            send(sent)
          }
          if (sent < total) setTimeout(tick, 1)
        }
        tick()
      }),
  )
  agent.destroy()
  const majorAfter = await majorCollections(url)
  latencies.sort()
  const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10
  return {
    rate,
    p50: at(0.5),
    p99: at(0.99),
    max: at(1),
    errors,
    steal: result.steal,
    majors: majorAfter === undefined || majorBefore === undefined ? undefined : majorAfter - majorBefore,
    used: cursor.used,
    wrapped: cursor.wrapped,
  }
}

/**
 * WARMUP requests one at a time, each of which must succeed, then some seconds under load.
 * Resolves with the first token not used.
 */
export async function warmUp(url, tokens, request = LOGOUT_REQUEST) {
  for (let i = 0; i < WARMUP; i++) {
    const res = await fetch(`${url}${request.path}`, {
      method: 'POST',
      headers: request.headers,
      body: request.body(tokens[i]),
    })
    if (res.status < 200 || res.status > 299) throw new Error(`warm-up answered ${res.status}: ${await res.text()}`)
  }
  const { used, errors } = await load(url, tokens, WARMUP, WARMUP_SECONDS, request)
  if (errors > 0) throw new Error(`${errors} errors while warming up under load`)
  return used
}

/**
 * ms from `backchannel serve` of `checkout` on the fs folder `folder` until /readyz answers 200;
 * without `folder`, on a fresh one (removed afterwards).
 */
export async function timeToReady({ folder, checkout = CHECKOUT } = {}) {
  const dir = folder ?? (await tempDir('bench-ready-'))
  const t0 = performance.now()
  const env = { PORT: '0', HOST: '127.0.0.1', BACKCHANNEL_STORAGE: `fs://${dir}`, BACKCHANNEL_LOG_LEVEL: 'warn' }
  const server = await start([binOf(checkout), 'serve'], env)
  while ((await fetch(`${server.url}/readyz`).catch(() => ({ status: 0 }))).status !== 200)
    await new Promise((r) => setTimeout(r, 5))
  const ms = performance.now() - t0
  await server.stop()
  if (!folder) await rm(dir, { recursive: true, force: true })
  return ms
}
