// The Hono app on Node (node.js), served on a socket: a real oidc-provider logs alice out; bob stays signed in.
import { createServer } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import { startDevIdp } from 'dev-idp'
import { afterAll, beforeAll, it } from 'vitest'
import { createNodeApp } from './node.js'
import { expectLogoutEndsOneSession } from './runtime.js'

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
  const app = await createNodeApp({ issuer: idp.issuer, clientId: 'hono-demo', development: true })
  server.on('request', getRequestListener(app.fetch))
})
afterAll(async () => {
  await idp?.close()
  server?.close()
})

it("ends the signed-out user's session and no one else's, on Node", async () => {
  await expectLogoutEndsOneSession(url, idp, 'hono-demo')
})
