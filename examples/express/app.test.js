// A real oidc-provider logs alice out: her next request to the Express app is unauthenticated,
// while bob stays signed in.
import { startWithDevIdp } from 'dev-idp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createApp } from './app.js'

let server
let idp
let url

beforeAll(async () => {
  ;({ server, url, idp } = await startWithDevIdp({ clientId: 'express-demo' }))
  server.on('request', await createApp({ issuer: idp.issuer, clientId: 'express-demo', development: true }))
})
afterAll(async () => {
  await idp?.close()
  server?.close()
})

/** Signs a user in and returns their session cookie. */
async function login(sub, sid) {
  const res = await fetch(`${url}/login?sub=${sub}&sid=${sid}`)
  expect(res.status).toBe(200)
  return res.headers.get('set-cookie').split(';')[0]
}
const me = (cookie) => fetch(`${url}/me`, { headers: { cookie } })

it("ends the signed-out user's session and no one else's", async () => {
  const alice = await login('alice', 'idp-session-alice')
  const bob = await login('bob', 'idp-session-bob')
  expect((await me(alice)).status).toBe(200)

  await idp.logout('express-demo', 'alice', 'idp-session-alice')

  const afterLogout = await me(alice)
  expect(afterLogout.status).toBe(401)
  expect(await afterLogout.json()).toEqual({ error: 'signed out at the identity provider' })
  expect(await (await me(bob)).json()).toEqual({ user: 'bob' })
})

it('answers the provider as the spec says: 400 with a JSON error for a bad token', async () => {
  const res = await fetch(`${url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'logout_token=not-a-jwt',
  })
  expect(res.status).toBe(400)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect((await res.json()).error).toBe('invalid_request')
})
