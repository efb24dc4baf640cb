// Behind the gateway: the provider posts its logouts to a Backchannel gateway, whose application
// forwards them (a `forward` relay) to two replicas of this Express app, each with its own
// in-memory sessions. Alice's logout ends her session at both replicas; bob stays signed in.
import { createServer } from 'node:http'
import { createAdminClient } from '@backchannel/admin/client'
import { loadConfig, runServer } from '@backchannel/server'
import { startDevIdp } from 'dev-idp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createApp } from './app.js'

const TOKEN = 'bca_express-example-relay-token-000'
let gateway
let idp
let replicas

beforeAll(async () => {
  gateway = await runServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      BACKCHANNEL_STORAGE: 'memory://',
      BACKCHANNEL_ADMIN_TOKEN: TOKEN,
      BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'true',
      BACKCHANNEL_LOG_LEVEL: 'silent',
    }),
    { handleSignals: false },
  )
  // The provider knows only the gateway's logout URL.
  idp = await startDevIdp({
    clients: [{ client_id: 'express-demo', backchannel_logout_uri: `${gateway.url}/auth/logout/express-demo` }],
  })
  replicas = []
  for (let i = 0; i < 2; i++) {
    const server = createServer(await createApp({ issuer: idp.issuer, clientId: 'express-demo', development: true }))
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    replicas.push({ server, url: `http://127.0.0.1:${server.address().port}` })
  }
  const admin = createAdminClient({ url: `${gateway.url}/trpc`, token: TOKEN })
  await admin.apps.create.mutate({
    name: 'express-demo',
    issuer: idp.issuer,
    clientId: 'express-demo',
    relays: replicas.map(({ url }) => ({ url: `${url}/backchannel-logout`, mode: 'forward' })),
  })
})
afterAll(async () => {
  await idp?.close()
  for (const { server } of replicas ?? []) server.close()
  await gateway?.stop()
})

/** Signs a user in at one replica and returns its session cookie there. */
async function login(replica, sub, sid) {
  const res = await fetch(`${replica.url}/login?sub=${sub}&sid=${sid}`)
  expect(res.status).toBe(200)
  return res.headers.get('set-cookie').split(';')[0]
}
const me = async (replica, cookie) => (await fetch(`${replica.url}/me`, { headers: { cookie } })).status

it('ends the session at every replica the gateway relays the logout to', async () => {
  const [one, two] = replicas
  const alice = [await login(one, 'alice', 'sid-alice'), await login(two, 'alice', 'sid-alice')]
  const bob = await login(one, 'bob', 'sid-bob')

  await idp.logout('express-demo', 'alice', 'sid-alice')

  // The gateway answered the provider at once; its relays follow within moments.
  await expect.poll(async () => [await me(one, alice[0]), await me(two, alice[1])]).toEqual([401, 401])
  expect(await me(one, bob)).toBe(200)
})
