/** The CLI's admin commands against a gateway process, through the typed client. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ADMIN_TOKEN, type GatewayProcess, runCli, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
const cli = (...args: string[]) => runCli(args, { BACKCHANNEL_URL: gateway.url, BACKCHANNEL_ADMIN_TOKEN: ADMIN_TOKEN })

beforeAll(async () => {
  gateway = await startGateway()
})
afterAll(async () => {
  expect(await gateway?.stop()).toBe(0)
})

it('creates, lists, shows, rotates and deletes applications', async () => {
  const created = await cli('apps', 'create', '--name', 'billing')
  expect(created.code).toBe(0)
  expect(JSON.parse(created.stdout)).toMatchObject({
    app: { name: 'billing', kind: 'hmac' },
    secret: expect.stringMatching(/^bcs_/),
  })
  expect(JSON.parse((await cli('apps', 'list')).stdout)).toMatchObject([{ name: 'billing' }])
  expect(JSON.parse((await cli('apps', 'get', '--name', 'billing')).stdout)).toMatchObject({ name: 'billing' })
  const rotated = await cli('apps', 'rotate-secret', '--name', 'billing', '--grace', '60')
  expect(JSON.parse(rotated.stdout)).toEqual({ secret: expect.stringMatching(/^bcs_/) })
  expect(JSON.parse((await cli('apps', 'delete', '--name', 'billing')).stdout)).toEqual({ deleted: true })
})

it('revokes sessions and reads the audit log', async () => {
  await cli('apps', 'create', '--name', 'wiki')
  await gateway.admin.sessions.register.mutate({ app: 'wiki', sessionId: 's1', sub: 'alice' })
  expect(JSON.parse((await cli('sessions', 'revoke', '--app', 'wiki', '--sub', 'alice')).stdout)).toEqual({
    revoked: 1,
  })
  const audit = JSON.parse((await cli('audit', '--app', 'wiki', '--limit', '1')).stdout)
  expect(audit).toMatchObject([{ app: 'wiki', source: 'admin', outcome: 'revoked', revoked: 1 }])
})

it('says what went wrong, on stderr, with a non-zero exit', async () => {
  const missing = await cli('apps', 'get', '--name', 'nope')
  expect(missing.code).toBe(1)
  expect(missing.stderr).toMatch(/^backchannel: NOT_FOUND: no application is named "nope"/)
  const denied = await runCli(['apps', 'list'], { BACKCHANNEL_URL: gateway.url, BACKCHANNEL_ADMIN_TOKEN: 'bca_wrong' })
  expect(denied.stderr).toMatch(/UNAUTHORIZED/)
})
