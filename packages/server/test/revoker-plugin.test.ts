/**
 * `backchannel serve --revoker`: the real gateway in a child process, its sessions ended by a
 * plugin module. The plugins here write what they are asked to a file the test reads.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mintLogoutToken } from '@backchannel/core/mint'
import { TRPCClientError } from '@trpc/client'
import { afterAll, describe, expect, it } from 'vitest'
import { postLogout, runCli, startGateway } from './fixtures/gateway-process.js'

const dir = mkdtempSync(join(tmpdir(), 'bc-revoker-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes a plugin module into the test folder; `body` is its source. */
function plugin(name: string, body: string): string {
  const path = join(dir, name)
  writeFileSync(path, body)
  return path
}

/** A plugin that appends every call it gets, as a JSON line, to `log`; with a replay store when asked. */
function recordingPlugin(name: string, { replay = false } = {}) {
  const log = join(dir, `${name}.ndjson`)
  const path = plugin(
    `${name}.mjs`,
    `import { appendFileSync } from 'node:fs'
const note = (entry) => appendFileSync(${JSON.stringify(log)}, JSON.stringify(entry) + '\\n')
export default async ({ config, logger, store }) => {
  note({ call: 'start', port: config.port, adminToken: config.adminToken, hasStore: typeof store.apps.get })
  logger.info('recording plugin ready')
  const claimed = new Set()
  return {
    revoker: {
      async revoke(target) {
        note({ call: 'revoke', target })
        return { revoked: 3 }
      },
    },
    ${
      replay
        ? `replay: {
      async claim(key) {
        note({ call: 'claim' })
        if (claimed.has(key)) return false
        claimed.add(key)
        return true
      },
      async release(key) { claimed.delete(key) },
    },`
        : ''
    }
    close: () => note({ call: 'close' }),
  }
}
`,
  )
  const calls = () =>
    readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { call: string; [field: string]: unknown })
  return { path, calls }
}

describe('a revoker plugin under the real gateway', () => {
  it('ends the sessions of a logout posted over a socket, and is closed on shutdown', async () => {
    const { path, calls } = recordingPlugin('plain')
    const gateway = await startGateway({ BACKCHANNEL_REVOKER: path })
    try {
      expect(gateway.stderr()).toContain(`sessions ended by the revoker plugin ${path}`)
      const { secret } = await gateway.admin.apps.create.mutate({ name: 'shop' })
      const token = await mintLogoutToken({ secret: secret as string, sub: 'user-42' })
      const res = await postLogout(gateway.url, 'shop', `logout_token=${token}`)
      expect(res.status).toBe(200)
      // A resent token is a replay, claimed in the gateway's own store: the plugin is not asked again.
      expect((await postLogout(gateway.url, 'shop', `logout_token=${token}`)).status).toBe(200)
      // The admin's revocation goes through the plugin too, and is audited in the gateway's store.
      expect(await gateway.admin.sessions.revoke.mutate({ app: 'shop', sid: 'idp-1' })).toEqual({ revoked: 3 })
      const [record] = await gateway.admin.audit.list.query({ app: 'shop', limit: 1 })
      expect(record).toMatchObject({ action: 'sessions.revoke', revoked: 3 })
    } finally {
      expect(await gateway.stop()).toBe(0)
    }
    const [start, ...rest] = calls()
    // The plugin got the configuration without the admin token, the gateway's store and logger.
    expect(start).toEqual({ call: 'start', port: 0, hasStore: 'function' })
    expect(gateway.stdout()).toMatch(/"plugin":"revoker".*"msg":"recording plugin ready"/)
    expect(rest).toEqual([
      { call: 'revoke', target: expect.objectContaining({ app: 'shop', iss: '', sub: 'user-42', scope: 'session' }) },
      { call: 'revoke', target: expect.objectContaining({ app: 'shop', sid: 'idp-1' }) },
      { call: 'close' },
    ])
  })

  it("claims jtis in the plugin's replay store when it gives one", async () => {
    const { path, calls } = recordingPlugin('replay', { replay: true })
    const gateway = await startGateway({ BACKCHANNEL_REVOKER: path })
    try {
      const { secret } = await gateway.admin.apps.create.mutate({ name: 'shop' })
      const token = await mintLogoutToken({ secret: secret as string, sub: 'user-42' })
      for (let i = 0; i < 2; i++)
        expect((await postLogout(gateway.url, 'shop', `logout_token=${token}`)).status).toBe(200)
    } finally {
      expect(await gateway.stop()).toBe(0)
    }
    expect(calls().map((c) => c.call)).toEqual(['start', 'claim', 'revoke', 'claim', 'close'])
  })

  it('answers the session registry procedures with a coded error when the revoker keeps no registry', async () => {
    const { path } = recordingPlugin('registry')
    const gateway = await startGateway({ BACKCHANNEL_REVOKER: path })
    try {
      await gateway.admin.apps.create.mutate({ name: 'shop' })
      const calls = [
        () => gateway.admin.sessions.register.mutate({ app: 'shop', sessionId: 's1', sub: 'u' }),
        () => gateway.admin.sessions.status.query({ app: 'shop', sessionId: 's1' }),
        () => gateway.admin.sessions.list.query({ app: 'shop', sub: 'u' }),
        () => gateway.admin.sessions.end.mutate({ app: 'shop', sessionId: 's1' }),
      ]
      for (const call of calls) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error).toBeInstanceOf(TRPCClientError)
        expect((error as TRPCClientError<never>).data).toMatchObject({
          code: 'NOT_IMPLEMENTED',
          httpStatus: 501,
          backchannelCode: 'ERR_NO_SESSION_REGISTRY',
        })
      }
    } finally {
      expect(await gateway.stop()).toBe(0)
    }
  })
})

describe('a revoker plugin that cannot be used stops the server before it listens', () => {
  const serve = (revoker: string) =>
    runCli(['serve', '--revoker', revoker], {
      PORT: '0',
      HOST: '127.0.0.1',
      BACKCHANNEL_STORAGE: 'memory://',
      BACKCHANNEL_ADMIN_TOKEN: 'bca_revoker-plugin-test-token-0123',
    })

  it.each([
    ['a path that does not exist', () => join(dir, 'missing.mjs'), /does not exist/],
    ['a module that does not load', () => plugin('broken.mjs', 'export default ('), /could not be imported/],
    ['a module without a default export', () => plugin('named.mjs', 'export const revoker = {}'), /no default export/],
    [
      'a factory that throws',
      () => plugin('throws.mjs', "export default async () => { throw new Error('no database at db:5432') }"),
      /failed to start: no database at db:5432/,
    ],
    ['a factory returning nothing', () => plugin('nothing.mjs', 'export default () => {}'), /returned undefined/],
    [
      'a revoker without revoke()',
      () => plugin('shape.mjs', 'export default () => ({ revoker: { end() {} } })'),
      /returned no revoker with a revoke\(\) method/,
    ],
    [
      'a replay that is not a ReplayStore',
      () => plugin('replay.mjs', 'export default () => ({ revoker: { revoke() {} }, replay: { claim() {} } })'),
      /a replay that is not a ReplayStore/,
    ],
  ])('%s', async (_, make, reason) => {
    const path = make()
    const { code, stderr } = await serve(path)
    expect(code).not.toBe(0)
    expect(stderr).toContain('BACKCHANNEL_REVOKER')
    expect(stderr).toContain('--revoker')
    expect(stderr).toContain(path)
    expect(stderr).toMatch(reason)
    expect(stderr).not.toContain('listening on')
    expect(stderr).not.toMatch(/\n\s+at /)
  })
})
