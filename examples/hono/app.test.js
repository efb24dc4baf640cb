// A real oidc-provider logs alice out of the Hono app, served on a socket; bob stays signed in.
import { createServer } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import { startDevIdp } from 'dev-idp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createApp } from './app.js'

let server
let idp
let url

beforeAll(async () => {
  // The provider needs our logout URL and we need its issuer: take a port first.
  server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${server.address().port}`
  idp = await startDevIdp({
    clients: [{ client_id: 'hono-demo', backchannel_logout_uri: `${url}/backchannel-logout` }],
  })
  const app = await createApp({ issuer: idp.issuer, clientId: 'hono-demo', development: true })
  server.on('request', getRequestListener(app.fetch))
})
afterAll(async () => {
  await idp?.close()
  server?.close()
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
  await idp.logout('hono-demo', 'alice', 'sid-a')
  expect((await me(alice)).status).toBe(401)
  expect(await (await me(bob)).json()).toEqual({ user: 'bob' })
})
