/** The CLI as a user runs it: the real bin against a real gateway process on loopback. */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, type GatewayProcess, runCli, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
const cli = (...args: string[]) => runCli(args, { BACKCHANNEL_URL: gateway.url, BACKCHANNEL_ADMIN_TOKEN: ADMIN_TOKEN })
const json = async (...args: string[]) => {
  const { code, stdout, stderr } = await cli(...args)
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
  return JSON.parse(stdout)
}
/** A failure is one line on stderr, with its exit code, and never a stack trace. */
async function refused(args: string[], code: number, message: RegExp, env: Record<string, string> = {}) {
  const result = await runCli(args, { BACKCHANNEL_URL: gateway.url, BACKCHANNEL_ADMIN_TOKEN: ADMIN_TOKEN, ...env })
  expect(result.stderr).toMatch(message)
  expect(result.stderr).not.toMatch(/\n\s+at |Error:|node:internal/)
  expect(result.stderr).toMatch(/^backchannel: [^\n]+\n$/)
  expect(result.code).toBe(code)
  return result
}

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

it("takes an owner's API key in BACKCHANNEL_TOKEN or --token; a command it may not run names the role it needs", async () => {
  const { apiKey } = await gateway.admin.apps.create.mutate({ name: 'tenant' })
  await gateway.admin.apps.create.mutate({ name: 'neighbour' })
  const owner = (...args: string[]) =>
    runCli(args, { BACKCHANNEL_URL: gateway.url, BACKCHANNEL_ADMIN_TOKEN: '', BACKCHANNEL_TOKEN: apiKey })
  const whoami = await owner('whoami')
  expect({ code: whoami.code, answer: JSON.parse(whoami.stdout) }).toEqual({
    code: 0,
    answer: { role: 'owner', app: 'tenant' },
  })
  expect(JSON.parse((await owner('apps', 'get', '--name', 'tenant')).stdout)).toMatchObject({ name: 'tenant' })
  expect(JSON.parse((await owner('audit', '--app', 'tenant')).stdout)).toMatchObject([
    { app: 'tenant', action: 'apps.create', actor: 'admin' },
  ])
  // --token wins over the environment, whichever kind of token it is.
  const asAdmin = await runCli(['whoami', '--token', ADMIN_TOKEN], {
    BACKCHANNEL_URL: gateway.url,
    BACKCHANNEL_TOKEN: apiKey,
  })
  expect(JSON.parse(asAdmin.stdout)).toEqual({ role: 'admin' })

  // Refused: one line naming the role the command needs, exit 1 as every refusal of the gateway.
  const env = { BACKCHANNEL_ADMIN_TOKEN: '', BACKCHANNEL_TOKEN: apiKey }
  await refused(
    ['apps', 'update', '--name', 'tenant', '--max-token-age', '60'],
    1,
    /^backchannel: FORBIDDEN: this needs the admin token \(this command needs role admin: the admin token only\)/,
    env,
  )
  await refused(
    ['apps', 'get', '--name', 'neighbour'],
    1,
    /FORBIDDEN: .*its own application \(this command needs role owner: the admin token, or the API key of the application the input names/,
    env,
  )
  await refused(['apps', 'list'], 1, /FORBIDDEN: .*needs role admin/, env)
  expect((await gateway.admin.apps.get.query({ name: 'tenant' })).policy).toEqual({})
})

it('says what went wrong, on stderr, with a non-zero exit', async () => {
  const missing = await cli('apps', 'get', '--name', 'nope')
  expect(missing.code).toBe(1)
  expect(missing.stderr).toMatch(/^backchannel: NOT_FOUND: no application is named "nope"/)
  const denied = await runCli(['apps', 'list'], { BACKCHANNEL_URL: gateway.url, BACKCHANNEL_ADMIN_TOKEN: 'bca_wrong' })
  expect(denied.stderr).toMatch(/UNAUTHORIZED/)
})

// About twenty processes, one after another: more than the default timeout on a busy machine.
it('walks through every procedure of an HMAC application', { timeout: 120_000 }, async () => {
  const created = await json(
    'apps',
    'create',
    '--name',
    'walk',
    '--alg',
    'HS256',
    '--alg',
    'HS512',
    '--max-token-age',
    '300',
  )
  expect(created.app).toMatchObject({ algorithms: ['HS256', 'HS512'], policy: { maxTokenAge: 300 } })
  expect(await json('whoami')).toEqual({ role: 'admin' })

  const s1 = ['--app', 'walk', '--session-id', 's1']
  expect(await json('sessions', 'register', ...s1, '--sub', 'alice', '--auth-time', '1700000000')).toMatchObject({
    app: 'walk',
    sessionId: 's1',
    sub: 'alice',
    authTime: 1_700_000_000,
  })
  await json('sessions', 'register', '--app', 'walk', '--session-id', 's2', '--sub', 'alice')
  expect(await json('sessions', 'status', ...s1)).toEqual({ state: 'active' })
  expect(await json('sessions', 'list', '--app', 'walk', '--sub', 'alice')).toHaveLength(2)
  expect(await json('sessions', 'end', '--app', 'walk', '--session-id', 's2')).toEqual({ ended: true })
  expect(await json('sessions', 'revoke', '--app', 'walk', '--sub', 'alice')).toEqual({ revoked: 1 })
  expect(await json('sessions', 'status', ...s1)).toMatchObject({ state: 'revoked' })

  expect(await json('apps', 'rotate-secret', '--name', 'walk', '--grace', '0')).toEqual({
    secret: expect.stringMatching(/^bcs_/),
  })
  const { apiKey } = await json('apps', 'rotate-api-key', '--name', 'walk')
  expect(apiKey).toMatch(/^bck_/)
  // The new key is the application's: it names its owner, and reaches its sessions.
  const owner = (...args: string[]) => runCli(args, { BACKCHANNEL_URL: gateway.url, BACKCHANNEL_ADMIN_TOKEN: apiKey })
  expect(JSON.parse((await owner('whoami')).stdout)).toEqual({ role: 'owner', app: 'walk' })
  expect(JSON.parse((await owner('sessions', 'status', ...s1)).stdout)).toMatchObject({ state: 'revoked' })

  const updated = await json('apps', 'update', '--name', 'walk', '--logout-scope', 'user', '--allow-missing-exp')
  expect(updated.policy).toEqual({ maxTokenAge: 300, logoutScope: 'user', allowMissingExp: true })
  expect((await json('apps', 'update', '--name', 'walk', '--no-allow-missing-exp')).policy.allowMissingExp).toBe(false)
  expect(await json('apps', 'get', '--name', 'walk')).toMatchObject({ name: 'walk', kind: 'hmac' })
  expect((await json('apps', 'list')).map((a: { name: string }) => a.name)).toContain('walk')

  const records = await json('audit', '--app', 'walk')
  expect(records).toContainEqual(
    expect.objectContaining({ app: 'walk', source: 'admin', outcome: 'revoked', revoked: 1 }),
  )
  expect(await json('audit', '--app', 'walk', '--before', records[0].id, '--limit', '1')).toEqual(records.slice(1, 2))

  // rediscover is for OIDC applications: the gateway's refusal, naming the field, is exit 1.
  await refused(['apps', 'rediscover', '--name', 'walk'], 1, /BAD_REQUEST: name: only an OIDC application/)
  expect(await json('apps', 'delete', '--name', 'walk')).toEqual({ deleted: true })
  await refused(['apps', 'get', '--name', 'walk'], 1, /NOT_FOUND/)
})

describe('refuses what it cannot run, before any request', () => {
  it('an unknown flag, with the closest known one, and creates nothing', async () => {
    await refused(
      ['apps', 'create', '--name', 'typo', '--isuer', 'https://id.example.com'],
      2,
      /unknown flag --isuer; did you mean --issuer\?/,
    )
    expect(await json('apps', 'list')).not.toContainEqual(expect.objectContaining({ name: 'typo' }))
    await refused(['aps', 'list'], 2, /unknown command "aps"; did you mean backchannel apps\?/)
    await refused(['sessions', 'revoke', '--app', 'x', 'alice'], 2, /unexpected "alice"/)
  })

  it('an enum value, naming the allowed ones', async () => {
    await refused(['apps', 'create', '--name', 'x', '--alg', 'HS999'], 2, /--alg: "HS999" is not one of RS256, .*HS512/)
    await refused(['apps', 'update', '--name', 'x', '--logout-scope', 'all'], 2, /is not one of session, user/)
    await refused(['token', '--app', 'x', '--secret', 's', '--sub', 'u', '--alg', 'RS256'], 2, /HS256, HS384, HS512/)
  })

  it('a value of the wrong form, with the form expected', async () => {
    await refused(['audit', '--limit', 'abc'], 2, /--limit: expected a whole number, e\.g\. 50, not "abc"/)
    await refused(['audit', '--before', 'yesterday'], 2, /--before: "yesterday" .*22 lowercase letters and digits/)
    await refused(['apps', 'create', '--name', 'Not_A_Slug'], 2, /--name: "Not_A_Slug" is not of the form expected/)
    await refused(['apps', 'get'], 2, /--name is required/)
    await refused(['apps', 'list'], 2, /BACKCHANNEL_URL: "ftp:\/\/gw" is not the gateway's http\(s\) URL/, {
      BACKCHANNEL_URL: 'ftp://gw',
    })
    await refused(['apps', 'list'], 2, /give --token or set BACKCHANNEL_TOKEN .* or BACKCHANNEL_ADMIN_TOKEN/, {
      BACKCHANNEL_ADMIN_TOKEN: '',
    })
  })

  it("prints the gateway's refusal naming the field, exit 1", async () => {
    await refused(
      ['apps', 'create', '--name', 'hmac-rs', '--alg', 'RS256'],
      1,
      /BAD_REQUEST: algorithms \(--alg\): an HMAC application takes only HS256, HS384, HS512/,
    )
    await refused(['apps', 'rotate-secret', '--name', 'x', '--grace', '-5'], 1, /BAD_REQUEST: graceSeconds \(--grace\)/)
  })

  it('names the URL of a gateway that does not answer, and says it may not be running', async () => {
    const port = await closedPort()
    const url = `http://127.0.0.1:${port}`
    await refused(
      ['whoami', '--url', url],
      1,
      new RegExp(`cannot reach the gateway at ${url}/trpc .*may not be running`),
    )
  })
})

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('shows usage as typed: backchannel …, never the script path; no colours into a pipe', async () => {
    const top = await runCli(['help'])
    expect(top.code).toBe(0)
    expect(top.stdout).toMatch(/^Usage: backchannel <command>/)
    for (const command of ['serve', 'apps', 'sessions', 'audit', 'whoami', 'token', 'export', 'import']) {
      expect(top.stdout).toMatch(new RegExp(`\\n  ${command} `))
    }
    expect(top.stdout).toMatch(/Exit codes: 0 done, 1 failed .*, 2 usage or configuration/)
    const create = await runCli(['apps', 'create', '--help'])
    expect(create.stdout).toMatch(/^Usage: backchannel apps create --name <name> \[flags\]/)
    expect(create.stdout).toMatch(/--alg <alg> .*repeatable/)
    expect((await runCli(['help', 'apps', 'create'])).stdout).toBe(create.stdout)
    for (const out of [top.stdout, create.stdout]) {
      expect(out).not.toMatch(/bin\/backchannel|\.js/)
      expect(out).not.toContain('\u001b[')
    }
    const group = await runCli(['sessions'])
    expect(group.code).toBe(2)
    expect(group.stderr).toMatch(/^Usage: backchannel sessions <command>[\s\S]*register/)
  })

  it("--token says which token the command takes, from its procedure's role", async () => {
    expect((await runCli(['audit', '--help'])).stdout).toMatch(
      /--token <token> +the admin token, or the API key of the application the input names/,
    )
    expect((await runCli(['apps', 'update', '--help'])).stdout).toMatch(
      /--token <token> +the admin token only \(default/,
    )
    expect((await runCli(['whoami', '--help'])).stdout).toMatch(
      /--token <token> +any valid token: the admin token or an application's API key/,
    )
  })
})

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
