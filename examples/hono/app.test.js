// The Hono app on Node (node.js), served on a socket: a real oidc-provider logs alice out; bob stays signed in.
import { getRequestListener } from '@hono/node-server'
import { startWithDevIdp } from 'dev-idp'
import { afterAll, beforeAll, it } from 'vitest'
import { createNodeApp } from './node.js'
import { expectLogoutEndsOneSession } from './runtime.js'

let server
let idp
let url

beforeAll(async () => {
  ;({ server, url, idp } = await startWithDevIdp({ clientId: 'hono-demo' }))
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
