// The HTTP side of .ci/container-test, as an application would call the gateway: plain fetch over
// loopback, and an HS256 logout token signed with node:crypto (no project code, no JWT library).
//   node .ci/container-api.mjs ready URL          exit 0 once /readyz answers 200 (30 s at most)
//   node .ci/container-api.mjs logout URL TOKEN   register app "ci" and a session, post a logout: 200, session revoked
//   node .ci/container-api.mjs revoked URL TOKEN  the session of "logout" is still revoked (after a restart)
import { createHmac } from 'node:crypto'

const [step, base, adminToken] = process.argv.slice(2)
const fail = (message) => {
  console.error(`container-api ${step}: ${message}`)
  process.exit(1)
}

/** Calls an admin procedure over tRPC's plain-JSON HTTP shape; resolves with `result.data`. */
async function admin(procedure, input, mutation = true) {
  const url = `${base}/trpc/${procedure}${mutation ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`
  const res = await fetch(url, {
    method: mutation ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    ...(mutation ? { body: JSON.stringify(input) } : {}),
  })
  const body = await res.json()
  if (res.status !== 200) fail(`${procedure} answered ${res.status}: ${JSON.stringify(body)}`)
  return body.result.data
}

const base64url = (value) => Buffer.from(value).toString('base64url')
function hs256(claims, secret) {
  const signed = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'logout+jwt' }))}.${base64url(JSON.stringify(claims))}`
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`
}

const sessionState = async () => (await admin('sessions.status', { app: 'ci', sessionId: 's1' }, false)).state

if (step === 'ready') {
  const deadline = Date.now() + 30_000
  for (;;) {
    const status = await fetch(`${base}/readyz`).then(
      (res) => res.status,
      () => 0,
    )
    if (status === 200) process.exit(0)
    if (Date.now() > deadline) fail(`${base}/readyz did not answer 200 within 30 s (last: ${status || 'no answer'})`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
} else if (step === 'logout') {
  const { secret } = await admin('apps.create', { name: 'ci' })
  await admin('sessions.register', { app: 'ci', sessionId: 's1', sub: 'alice' })
  const now = Math.floor(Date.now() / 1000)
  const token = hs256({ sub: 'alice', iat: now, exp: now + 120, jti: `ci-${now}` }, secret)
  const res = await fetch(`${base}/auth/logout/ci`, {
    method: 'POST',
    body: new URLSearchParams({ logout_token: token }),
  })
  if (res.status !== 200) fail(`the logout answered ${res.status}: ${await res.text()}`)
  const state = await sessionState()
  if (state !== 'revoked') fail(`the session is ${state} after the logout`)
} else if (step === 'revoked') {
  const state = await sessionState()
  if (state !== 'revoked') fail(`the session is ${state}`)
} else {
  fail('unknown step')
}
