// pnpm bench: each contender in its own process on loopback, driven by autocannon from this one
// with unique, valid RS256 logout tokens (distinct jti and sub, each matching one registered
// session), one after another in the same run, the ceiling first and last.
// BENCH_SMOKE=1: a second or so per contender (CI); it checks that everything runs, not speed.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { redisStore } from '@backchannel/unstorage/redis'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { CLIENT_ID, startIssuer } from './issuer.js'

const SMOKE = process.env.BENCH_SMOKE === '1'
const DURATION = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10))
const CONNECTIONS = 50
const TOKENS = Number(process.env.BENCH_TOKENS ?? (SMOKE ? 3_000 : 100_000))
const MILLION = Number(process.env.BENCH_REDIS_SESSIONS ?? (SMOKE ? 10_000 : 1_000_000))
const WARMUP = 200
const here = fileURLToPath(new URL('.', import.meta.url))
const BIN = join(here, '../packages/server/bin/backchannel.js')
const ADMIN = `bca_${randomBytes(24).toString('base64url')}`

const log = (...args) => console.error(...args)

/** Runs a node script; resolves with its URL once it prints "listening on URL". */
function start(args, env) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr.on('data', (c) => {
      err += c
      const url = /listening on (http:\/\/\S+)/.exec(err)?.[1]
      if (url)
        resolve({
          url,
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

async function startRedis() {
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const server = await new Promise((resolve, reject) => {
    const child = spawn('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ])
    child.stdout.on('data', (c) => String(c).includes('Ready to accept') && resolve(child))
    child.once('error', reject)
  })
  return { url: `redis://127.0.0.1:${port}`, stop: () => server.kill('SIGKILL') }
}

const tcall = (url, path, input) =>
  fetch(`${url}/trpc/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  }).then(async (r) => (r.ok ? r.json() : Promise.reject(new Error(`${path}: ${r.status} ${await r.text()}`))))

/** A gateway process with the bench app and one session per token. */
async function gateway(env, issuer, tokens) {
  const server = await start([BIN, 'serve'], {
    PORT: '0',
    HOST: '127.0.0.1',
    BACKCHANNEL_ADMIN_TOKEN: ADMIN,
    BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'true',
    BACKCHANNEL_LOG_LEVEL: 'info',
    ...env,
  })
  await tcall(server.url, 'apps.create', { name: 'bench', issuer, clientId: CLIENT_ID })
  for (let i = 0; i < tokens.length; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, tokens.length - i) }, (_, j) =>
        tcall(server.url, 'sessions.register', {
          app: 'bench',
          sessionId: `s-${i + j}`,
          sub: `user-${i + j}`,
          sid: `sid-${i + j}`,
        }),
      ),
    )
  }
  return server
}

/** Drives `url` with the tokens from `from` on, one per request. */
async function load(url, tokens, from, options = {}) {
  let next = from
  let wrapped = false
  const result = await autocannon({
    url: `${url}/auth/logout/bench`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [
      {
        setupRequest(req) {
          if (next >= tokens.length) {
            next = WARMUP
            wrapped = true
          }
          return { ...req, body: `logout_token=${tokens[next++]}` }
        },
      },
    ],
    ...options,
  })
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    used: next,
    wrapped,
  }
}

async function warmUp(url, tokens) {
  for (let i = 0; i < WARMUP; i++) {
    const res = await fetch(`${url}/auth/logout/bench`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${tokens[i]}`,
    })
    if (res.status < 200 || res.status > 299) throw new Error(`warm-up answered ${res.status}: ${await res.text()}`)
  }
}

async function timeToReady() {
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

async function redisMemoryPerSession(url, count) {
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
  ['Backchannel, memory store', () => gateway({ BACKCHANNEL_STORAGE: 'memory://' }, idp.issuer, tokens)],
  [
    'Backchannel, fs store',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'bench-fs-'))
      dirs.push(dir)
      return gateway({ BACKCHANNEL_STORAGE: `fs://${dir}` }, idp.issuer, tokens)
    },
  ],
  [
    'Backchannel, Redis store',
    () =>
      gateway(
        { BACKCHANNEL_STORAGE: redis.url, BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url') },
        idp.issuer,
        tokens,
      ),
  ],
  [
    'peer: express-openid-connect',
    () => start([join(here, 'contenders/peer.js')], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' }),
  ],
  [
    'ceiling (h3 + jose verify), again',
    () => start([join(here, 'contenders/ceiling.js')], { ISSUER: idp.issuer, CLIENT_ID, PORT: '0' }),
  ],
]

let fixedRate
for (const [name, launch] of contenders) {
  log(`${name}: starting`)
  const server = await launch()
  await warmUp(server.url, tokens)
  const before = { ...idp.hits }
  log(`${name}: ${DURATION} s under load`)
  const result = await load(server.url, tokens, WARMUP)
  hitsDuringLoad.push(idp.hits.discovery - before.discovery + idp.hits.jwks - before.jwks)
  rows.push({ name, ...result })
  if (name === 'Backchannel, memory store') {
    // p99 at half the maximum, on the tokens the full-speed run did not use.
    log(`${name}: ${DURATION} s at half its maximum rate`)
    fixedRate = {
      rate: Math.round(result.rps / 2),
      ...(await load(server.url, tokens, result.used, { overallRate: Math.round(result.rps / 2) })),
    }
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
const fmt = (n) => Math.round(n).toLocaleString('en')
const lines = [
  `${DURATION} s per contender, ${CONNECTIONS} connections, ${fmt(TOKENS)} unique RS256 tokens, node ${process.version}`,
  '',
  '| contender | requests/s | p50 (ms) | p99 (ms) | errors | ratio to ceiling |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} | ${(r.rps / ceiling).toFixed(2)}${r.wrapped ? ' (tokens reused)' : ''} |`,
  ),
  '',
  `Backchannel (memory) at a fixed ${fmt(fixedRate.rate)} requests/s (half its maximum): p50 ${fixedRate.p50} ms, p99 ${fixedRate.p99} ms, ${fixedRate.errors} errors.`,
  `JWKS and discovery requests at the issuer during the measured runs (after warm-up): ${hitsDuringLoad.join(', ')}.`,
  `Time from \`backchannel serve\` to /readyz = 200 (fs storage, fresh folder): median ${fmt(ready[1])} ms (${ready.map(fmt).join(', ')}).`,
  `Redis memory per registered session (${fmt(MILLION)} sessions, sid + sub indexed): ${fmt(perSession)} bytes.`,
]
console.log(lines.join('\n'))
const failed = rows.filter((r) => !r.name.startsWith('peer') && r.errors > 0)
if (failed.length) {
  console.error(`errors in: ${failed.map((r) => r.name).join(', ')}`)
  process.exitCode = 1
}
