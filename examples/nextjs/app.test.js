// The Next.js route handlers under `next dev` on 127.0.0.1 (a real server, compiling on demand:
// faster here than `next build`): a real oidc-provider logs alice out; bob stays signed in.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { startDevIdp } from 'dev-idp'
import { afterAll, beforeAll, expect, it } from 'vitest'

const next = createRequire(import.meta.url).resolve('next/dist/bin/next')
let idp
let server
let url

beforeAll(async () => {
  // The provider needs our logout URL before Next.js starts: take a free port first.
  const probe = createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  url = `http://127.0.0.1:${port}`
  idp = await startDevIdp({
    clients: [{ client_id: 'nextjs-demo', backchannel_logout_uri: `${url}/api/backchannel-logout` }],
  })
  const { jwks_uri } = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()
  const env = { ISSUER: idp.issuer, JWKS_URI: jwks_uri, CLIENT_ID: 'nextjs-demo', DEVELOPMENT: 'true' }
  // Its own process group, so that stopping it stops the server Next.js forks.
  server = spawn(process.execPath, [next, 'dev', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: import.meta.dirname,
    env: { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'development' },
    stdio: 'ignore',
    detached: true,
  })
  // Ready once a route answers (the first request compiles it).
  for (let tries = 0; ; tries++) {
    const status = await fetch(`${url}/api/me`).then(
      (res) => res.status,
      () => 0,
    )
    if (status === 401) break
    if (tries > 200 || server.exitCode !== null) throw new Error(`next dev did not answer (last status ${status})`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}, 120_000)
afterAll(async () => {
  if (server?.exitCode === null) {
    const exited = new Promise((resolve) => server.on('exit', resolve))
    process.kill(-server.pid, 'SIGTERM')
    await exited
  }
  await idp?.close()
})

async function login(sub, sid) {
  const res = await fetch(`${url}/api/login?sub=${sub}&sid=${sid}`)
  expect(res.status).toBe(200)
  return res.headers.get('set-cookie').split(';')[0]
}
const me = (cookie) => fetch(`${url}/api/me`, { headers: { cookie } })

it("ends the signed-out user's session and no one else's", async () => {
  const alice = await login('alice', 'sid-a')
  const bob = await login('bob', 'sid-b')
  expect((await me(alice)).status).toBe(200)
  await idp.logout('nextjs-demo', 'alice', 'sid-a')
  expect((await me(alice)).status).toBe(401)
  expect(await (await me(bob)).json()).toEqual({ user: 'bob' })
}, 60_000)
