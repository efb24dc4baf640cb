// Applying the same file twice changes nothing the second time; a changed file updates in place.
import { createAdminClient } from '@backchannel/admin/client'
import { loadConfig, runServer } from '@backchannel/server'
import { startDevIdp } from 'dev-idp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { apply } from './apply.js'

const TOKEN = 'bca_admin-client-example-token-000'
let gateway
let idp
let admin

beforeAll(async () => {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    BACKCHANNEL_STORAGE: 'memory://',
    BACKCHANNEL_ADMIN_TOKEN: TOKEN,
    BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'true',
    BACKCHANNEL_LOG_LEVEL: 'silent',
  })
  gateway = await runServer(config, { handleSignals: false })
  idp = await startDevIdp({
    clients: [{ client_id: 'demo', backchannel_logout_uri: `${gateway.url}/auth/logout/wiki` }],
  })
  admin = createAdminClient({ url: `${gateway.url}/trpc`, token: TOKEN })
})
afterAll(async () => {
  await idp?.close()
  await gateway?.stop()
})

it('creates what is missing, then leaves it alone, then updates what changed', async () => {
  const file = [
    { name: 'wiki', issuer: idp.issuer, clientId: 'demo', algorithms: ['RS256'], policy: { logoutScope: 'session' } },
    { name: 'billing', policy: { maxTokenAge: 300 } },
  ]
  const first = await apply(admin, file)
  expect(first).toMatchObject({ created: ['wiki', 'billing'], updated: [], unchanged: [] })
  expect(Object.keys(first.secrets)).toEqual(['billing']) // only the new HMAC app has a secret
  expect(first.secrets.billing).toMatch(/^bcs_/)

  const second = await apply(admin, file)
  expect(second).toMatchObject({ created: [], updated: [], unchanged: ['wiki', 'billing'], secrets: {} })

  await admin.apps.create.mutate({ name: 'made-by-hand' })
  file[1].policy = { maxTokenAge: 120 }
  const third = await apply(admin, file)
  expect(third).toMatchObject({ created: [], updated: ['billing'], unchanged: ['wiki'], unmanaged: ['made-by-hand'] })
  expect((await admin.apps.get.query({ name: 'billing' })).policy).toEqual({ maxTokenAge: 120 })

  // The applied OIDC app is live: the provider's own logout request is accepted and ends the session.
  await admin.sessions.register.mutate({ app: 'wiki', sessionId: 's1', sub: 'alice', sid: 'idp-sid' })
  await idp.logout('demo', 'alice', 'idp-sid')
  expect(await admin.sessions.status.query({ app: 'wiki', sessionId: 's1' })).toMatchObject({ state: 'revoked' })
})

it('refuses to change an issuer in place', async () => {
  await expect(apply(admin, [{ name: 'wiki', issuer: 'https://elsewhere.example', clientId: 'demo' }])).rejects.toThrow(
    /issuer cannot change in place/,
  )
})
