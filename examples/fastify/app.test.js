// The Fastify app on a socket: a real oidc-provider logs alice out; bob stays signed in; a body
// of the wrong type gets core's answer, not Fastify's.
import { startWithDevIdp } from 'dev-idp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createApp } from './app.js'

let server
let idp
let app
let url

beforeAll(async () => {
  ;({ server, url, idp } = await startWithDevIdp({ clientId: 'fastify-demo' }))
  const serverFactory = (handler) => server.on('request', handler)
  app = await createApp({ issuer: idp.issuer, clientId: 'fastify-demo', development: true, fastify: { serverFactory } })
  await app.ready()
})
afterAll(async () => {
  await app?.close()
  await idp?.close()
})

async function login(sub, sid) {
  const res = await fetch(`${url}/login?sub=${sub}&sid=${sid}`)
  return res.headers.get('set-cookie').split(';')[0]
}
const me = (cookie) => fetch(`${url}/me`, { headers: { cookie } })

it("ends the signed-out user's session and no one else's", async () => {
  const alice = await login('alice', 'sid-a')
  const bob = await login('bob', 'sid-b')
  expect((await me(alice)).status).toBe(200)
  await idp.logout('fastify-demo', 'alice', 'sid-a')
  expect((await me(alice)).status).toBe(401)
  expect(await (await me(bob)).json()).toEqual({ user: 'bob' })
})

it('answers a JSON body with the flow’s 400, and no cache', async () => {
  const res = await fetch(`${url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"logout_token":"x"}',
  })
  expect(res.status).toBe(400)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(await res.json()).toMatchObject({ error: 'invalid_request' })
})
