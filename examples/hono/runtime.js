// Test helpers: the Hono app in another runtime, as a real process on loopback, logged out by a
// real oidc-provider. Every child gets the telemetry and update checks turned off.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { startDevIdp } from 'dev-idp'
import { expect } from 'vitest'

/** Environment for every runtime: nothing reaches the network but loopback. */
export const quiet = {
  DO_NOT_TRACK: '1', // Bun
  DENO_NO_UPDATE_CHECK: '1',
  DENO_NO_PROMPT: '1',
}

/** A port free on 127.0.0.1 now: the provider needs our logout URL before the app can start. */
export async function freePort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A provider whose client `clientId` sends logouts to `url`, and the app's settings for it. */
export async function providerFor(clientId, url) {
  const idp = await startDevIdp({
    clients: [{ client_id: clientId, backchannel_logout_uri: `${url}/backchannel-logout` }],
  })
  const metadata = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()
  const settings = { ISSUER: idp.issuer, JWKS_URI: metadata.jwks_uri, CLIENT_ID: clientId, DEVELOPMENT: 'true' }
  return { idp, settings }
}

/** Runs `command` until it prints `listening on URL`; `stop()` kills it. */
export async function startProcess(command, args, env, cwd) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...quiet, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const url = await new Promise((resolve, reject) => {
    const read = (chunk) => {
      output += chunk
      const found = /listening on (http:\/\/\S+?)\/?\s/.exec(output)
      if (found) resolve(found[1])
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    child.on('exit', (code) => reject(new Error(`${command} exited (${code}) before listening:\n${output}`)))
  })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  return {
    url,
    stop: () => {
      child.kill()
      return exited
    },
  }
}

/** alice and bob sign in; the provider logs alice out; her next request is refused, bob's is not. */
export async function expectLogoutEndsOneSession(url, idp, clientId) {
  const login = async (sub, sid) => {
    const res = await fetch(`${url}/login?sub=${sub}&sid=${sid}`)
    expect(res.status).toBe(200)
    return res.headers.get('set-cookie').split(';')[0]
  }
  const me = (cookie) => fetch(`${url}/me`, { headers: { cookie } })
  const alice = await login('alice', 'sid-a')
  const bob = await login('bob', 'sid-b')
  expect((await me(alice)).status).toBe(200)
  await idp.logout(clientId, 'alice', 'sid-a')
  expect((await me(alice)).status).toBe(401)
  expect(await (await me(bob)).json()).toEqual({ user: 'bob' })
}
