// The operator's path, as written: setup.sh makes the env file, start.sh runs the gateway on
// a real Redis, register-apps.sh registers an OIDC and an HMAC app through the CLI; then a real
// provider and an application's backend log users out.
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createAdminClient } from '@backchannel/admin/client'
import { startDevIdp } from 'dev-idp'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const here = fileURLToPath(new URL('.', import.meta.url))
const run = promisify(execFile)
const redisUrl = inject('redisUrl')
const exported = { BACKCHANNEL_ADMIN_TOKEN: 'bca_exported-in-the-shell-not-the-examples-own' }
if (!redisUrl)
  console.warn(
    '\n⚠ SKIPPING the self-host example test: redis-server is not installed (apt-get install -y redis-server).\n',
  )

describe.skipIf(!redisUrl)('self-host example', () => {
  let dir
  let envFile
  let gateway
  let url
  let idp
  let env

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'self-host-'))
    envFile = join(dir, '.env')
    await run('sh', [join(here, 'setup.sh')], { env: { ...process.env, ENV_FILE: envFile } })
    // This test's Redis and a free port; an http:// development provider.
    const settings = (await readFile(envFile, 'utf8'))
      .replace(/^BACKCHANNEL_STORAGE=.*$/m, `BACKCHANNEL_STORAGE=${redisUrl}/5`)
      .replace(/^PORT=.*$/m, 'PORT=0')
      .replace(/^HOST=.*$/m, 'HOST=127.0.0.1')
    await writeFile(envFile, `${settings}BACKCHANNEL_ALLOW_INSECURE_ISSUERS=true\n`)
    env = Object.fromEntries(
      settings
        .split('\n')
        .filter((l) => /^\w+=/.test(l))
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    )

    // A token left exported in the terminal (as the README's walk-through leaves one) must not win
    // over the example's own .env: start.sh and register-apps.sh both read the file's.
    gateway = spawn('sh', [join(here, 'start.sh')], { env: { ...process.env, ENV_FILE: envFile, ...exported } })
    url = await new Promise((resolve, reject) => {
      let err = ''
      gateway.stderr.on('data', (c) => {
        err += c
        const found = /listening on (http:\/\/\S+)/.exec(err)?.[1]
        if (found) resolve(found)
      })
      gateway.once('exit', (code) => reject(new Error(`start.sh exited with ${code}: ${err}`)))
    })
    idp = await startDevIdp({ clients: [{ client_id: 'demo', backchannel_logout_uri: `${url}/auth/logout/wiki` }] })
  })
  afterAll(async () => {
    await idp?.close()
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((resolve) => gateway.once('exit', resolve))
      gateway.kill('SIGTERM')
      expect(await exited).toBe(0)
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('registers the apps with the CLI, then ends sessions on real logouts', async () => {
    const { stdout } = await run('sh', [join(here, 'register-apps.sh')], {
      env: { ...process.env, ENV_FILE: envFile, BACKCHANNEL_URL: url, OIDC_ISSUER: idp.issuer, ...exported },
    })
    expect(stdout).toContain('"name": "wiki"')
    const secret = /"secret": "(bcs_[\w-]+)"/.exec(stdout)?.[1]
    expect(secret).toBeDefined()

    const admin = createAdminClient({ url: `${url}/trpc`, token: env.BACKCHANNEL_ADMIN_TOKEN })
    await admin.sessions.register.mutate({ app: 'wiki', sessionId: 'w1', sub: 'alice', sid: 'idp-1' })
    await admin.sessions.register.mutate({ app: 'billing', sessionId: 'b1', sub: 'user-42' })

    await idp.logout('demo', 'alice', 'idp-1')
    const token = await new SignJWT({ sub: 'user-42' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(new TextEncoder().encode(secret))
    const res = await fetch(`${url}/auth/logout/billing`, {
      method: 'POST',
      body: new URLSearchParams({ logout_token: token }),
    })
    expect(res.status).toBe(200)

    expect(await admin.sessions.status.query({ app: 'wiki', sessionId: 'w1' })).toMatchObject({ state: 'revoked' })
    expect(await admin.sessions.status.query({ app: 'billing', sessionId: 'b1' })).toMatchObject({ state: 'revoked' })
  })

  it('reports ready and exposes metrics', async () => {
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(
      /backchannel_sessions_revoked_total\{app="billing"\} 1/,
    )
  })
})
