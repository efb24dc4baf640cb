// Relays in run.js (issue 22): a sink on loopback that the gateway's relays post to, and the
// outbox's delivery measured with it.
// - The sink answers 204 to each delivery and notes, per logout (`sid`) and relay (its path), when
//   it answered. Paused, it holds what arrives unanswered: the drainer then has its (at most 32)
//   attempts in flight and takes nothing more, so delivery costs the gateway nothing meanwhile.
// - deliveryRun(): a gateway with RELAYS relays accepts BACKLOG logouts while the sink is paused,
//   then the sink resumes and the drainer empties the outbox with nothing else to do: relayed
//   tokens per second and the gateway's CPU per token. Then, with the sink answering, logouts at a
//   fixed rate: the time from the identity provider's 200 to the last of its relays' 2xx.
import { rm } from 'node:fs/promises'
import http from 'node:http'
import { cpuByPid, cpuSince, DURATION, fixedRate, fmt, gateway, log, SMOKE, storageEnv, tempDir } from './lib.js'

/** Relays per application in these rows. */
export const RELAYS = 3
/** Logouts in the backlog the drainer empties: RELAYS times as many tokens to relay. */
const BACKLOG = SMOKE ? 200 : 1_000
/** Seconds to wait for the last delivery before reporting what is missing. */
const PATIENCE = SMOKE ? 30 : 120

/** The `sid` claim of a logout token (not verified: the sink only counts). */
const sidOf = (token) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).sid

/** The sink; `relays(clientId)` are the relays of an application posting to it. */
export async function startSink() {
  /** `${path} ${sid}` → performance.now() of the first 2xx answered for it. */
  const answered = new Map()
  let held = []
  let paused = false
  const answer = (req, res, sid) => {
    if (res.destroyed || req.socket.destroyed) return // the attempt timed out: the drainer tries again later
    res.writeHead(204).end()
    const key = `${req.url} ${sid}`
    if (!answered.has(key)) answered.set(key, performance.now())
  }
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('latin1')
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      const sid = sidOf(new URLSearchParams(body).get('logout_token') ?? '')
      if (paused) held.push([req, res, sid])
      else answer(req, res, sid)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  return {
    answered,
    relays: (clientId) =>
      Array.from({ length: RELAYS }, (_, i) => ({ url: `${url}/relay-${i}`, mode: 'sign', clientId })),
    /** Once each of `sids` has a 2xx from every relay: the performance.now() of the last; `undefined` past PATIENCE. */
    async allAnswered(sids) {
      const deadline = performance.now() + PATIENCE * 1000
      const keys = sids.flatMap((sid) => Array.from({ length: RELAYS }, (_, i) => `/relay-${i} ${sid}`))
      while (keys.some((key) => !answered.has(key))) {
        if (performance.now() > deadline) return undefined
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return Math.max(...keys.map((key) => answered.get(key)))
    },
    pause() {
      paused = true
    },
    resume() {
      paused = false
      for (const [req, res, sid] of held) answer(req, res, sid)
      held = []
    },
    /** Forgets what was answered. */
    reset() {
      answered.clear()
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

/** `count` logouts from token `from` on, 50 at a time; throws unless each is answered 2xx. */
async function logouts(url, tokens, from, count) {
  let next = from
  const one = async () => {
    for (let i = next++; i < from + count; i = next++) {
      const res = await fetch(`${url}/auth/logout/bench`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `logout_token=${tokens[i]}`,
      })
      if (!res.ok) throw new Error(`a logout with relays answered ${res.status}: ${await res.text()}`)
    }
  }
  await Promise.all(Array.from({ length: 50 }, one))
}

/**
 * The delivery figures on a fresh fs store: `drain` (the backlog emptied: tokens, seconds,
 * tokens per second, server CPU µs per token) and `paced` (the IdP's 200 to the last relay's 2xx
 * at a fixed rate: rate, p50, p99, max in ms, and logouts whose relays were not all answered).
 */
export async function deliveryRun({ sink, issuer, tokens, clientId }) {
  const folder = await tempDir('bench-relays-')
  // Sessions for the paced logouts too: enough for 400 a second.
  const paced = Math.min(tokens.length - BACKLOG, 400 * (DURATION + 2))
  const server = await gateway(storageEnv('fs', { folder }), issuer, tokens.slice(0, BACKLOG + paced), {
    relays: sink.relays(clientId),
  })
  const sidsOf = (from, to) => Array.from({ length: to - from }, (_, i) => `sid-${from + i}`)
  try {
    sink.reset()
    sink.pause()
    log(`relays: ${fmt(BACKLOG)} logouts accepted with the sink paused…`)
    await logouts(server.url, tokens, 0, BACKLOG)
    const before = await cpuByPid([server.pid])
    const t0 = performance.now()
    sink.resume()
    const last = await sink.allAnswered(sidsOf(0, BACKLOG))
    const delivered = sink.answered.size
    const seconds = ((last ?? performance.now()) - t0) / 1000
    const drain = {
      tokens: delivered,
      missing: BACKLOG * RELAYS - delivered,
      seconds,
      rate: delivered / seconds,
      serverUs: ((await cpuSince(before, [server.pid])) * 1e6) / delivered,
    }
    // Half the logouts per second the drainer kept up with: the relays are not what queues.
    const rate = Math.max(1, Math.round(Math.min(drain.rate / RELAYS / 2, paced / (DURATION + 2))))
    log(`relays: ${DURATION} s of logouts at ${rate}/s, each to ${RELAYS} relays…`)
    const answeredAt = new Map()
    const run = await fixedRate(server.url, tokens.slice(0, BACKLOG + paced), BACKLOG, rate, {
      onAnswer: (token, at) => answeredAt.set(`sid-${token}`, at),
    })
    await sink.allAnswered([...answeredAt.keys()])
    const gaps = []
    let missing = 0
    for (const [sid, at] of answeredAt) {
      const relayed = Array.from({ length: RELAYS }, (_, i) => sink.answered.get(`/relay-${i} ${sid}`))
      if (relayed.includes(undefined)) missing++
      else gaps.push(Math.max(...relayed) - at)
    }
    gaps.sort((a, b) => a - b)
    const at = (q) => Math.round(gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] * 10) / 10
    return {
      backlog: BACKLOG,
      drain,
      paced: { rate, p50: at(0.5), p99: at(0.99), max: at(1), missing, errors: run.errors, steal: run.steal },
    }
  } finally {
    sink.resume()
    await server.stop()
    await rm(folder, { recursive: true, force: true })
  }
}
