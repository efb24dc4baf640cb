/**
 * docs/integrating.md works as written: its Node.js snippet for applications without OIDC and its
 * `backchannel token` line, run as they stand (with the gateway's address filled in) against a
 * gateway process, end the user's sessions; its relay receivers' snippets (`sign`, `hmac`) verify
 * the tokens a gateway relays.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { mintLogoutToken } from '@backchannel/core/mint'
import { decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, type GatewayProcess, startGateway } from './fixtures/gateway-process.js'
import { startLoopbackGateway } from './fixtures/loopback-gateway.js'
import { quickRetry } from './fixtures/quick-retry.js'
import { startRelayReceiver } from './fixtures/relay-receiver.js'

const run = promisify(execFile)
const doc = await readFile(new URL('../../../docs/integrating.md', import.meta.url), 'utf8')
let gateway: GatewayProcess
let secret: string

beforeAll(async () => {
  gateway = await startGateway()
  secret = (await gateway.admin.apps.create.mutate({ name: 'billing' })).secret as string
})
afterAll(async () => {
  await gateway?.stop()
})

/** The code block that follows `marker` in the doc, with the gateway's address filled in. */
function snippet(marker: string): string {
  const after = doc.slice(doc.indexOf(marker))
  const code = /```\w*\n([\s\S]*?)```/.exec(after)?.[1]
  if (!code) throw new Error(`no code block after ${marker}`)
  return code.replaceAll('https://<gateway>', gateway.url)
}

const state = async (sessionId: string) =>
  (await gateway.admin.sessions.status.query({ app: 'billing', sessionId })).state

it('the Node.js (jose) snippet logs the user out', async () => {
  await gateway.admin.sessions.register.mutate({ app: 'billing', sessionId: 'node-1', sub: 'user-42' })
  await run(process.execPath, ['--input-type=module', '-e', snippet('**Node.js** (jose)')], {
    env: { ...process.env, BACKCHANNEL_SECRET: secret },
    cwd: new URL('.', import.meta.url).pathname, // where jose resolves
  })
  expect(await state('node-1')).toBe('revoked')
})

it('the backchannel token line logs the user out', async () => {
  await gateway.admin.sessions.register.mutate({ app: 'billing', sessionId: 'cli-1', sub: 'user-42' })
  const line = snippet('**The CLI**').trim()
  expect(line).toMatch(/^backchannel token /)
  await run('sh', ['-c', line.replace(/^backchannel/, `"${process.execPath}" "${BIN}"`)], {
    env: { ...process.env, BACKCHANNEL_SECRET: secret },
  })
  expect(await state('cli-1')).toBe('revoked')
})

/** The ```js block of the doc that contains `text`. */
function jsBlockWith(text: string): string {
  const block = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((b) => b.includes(text))
  if (!block) throw new Error(`no js block with ${text}`)
  return block
}

it("the relay receivers' sign and hmac snippets verify what a gateway relays", async () => {
  const relaying = await startLoopbackGateway({ relays: { planRetry: quickRetry, pollMs: 50 } })
  const receiver = await startRelayReceiver()
  try {
    const [signUrl, hmacUrl] = [`${receiver.url}?mode=sign`, `${receiver.url}?mode=hmac`]
    const created = await relaying.admin.apps.create.mutate({
      name: 'wiki',
      relays: [
        { url: signUrl, mode: 'sign', clientId: 'search' },
        { url: hmacUrl, mode: 'hmac' },
      ],
    })
    const relaySecret = (created as { relaySecrets?: Record<string, string> }).relaySecrets?.[hmacUrl] as string
    const token = await mintLogoutToken({ secret: created.secret as string, sub: 'user-42' })
    const res = await fetch(`${relaying.url}/auth/logout/wiki`, {
      method: 'POST',
      body: new URLSearchParams({ logout_token: token }),
    })
    expect(res.status).toBe(200)
    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(2)
    const relayed = (alg: string) =>
      receiver.received.map((r) => r.token).find((t) => decodeProtectedHeader(t).alg === alg) as string

    const verified = async (code: string, logoutToken: string) => {
      const script = `const logoutToken = process.env.LOGOUT_TOKEN\n${code.replaceAll('https://gateway.example.com', relaying.url)}\nconsole.log(JSON.stringify(payload))`
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, LOGOUT_TOKEN: logoutToken, RELAY_SECRET: relaySecret },
        cwd: new URL('.', import.meta.url).pathname, // where jose resolves
      })
      return JSON.parse(stdout) as Record<string, unknown>
    }
    expect(await verified(jsBlockWith('createRemoteJWKSet'), relayed('ES256'))).toMatchObject({
      iss: relaying.url,
      aud: 'search',
      sub: 'user-42',
    })
    expect(await verified(jsBlockWith('RELAY_SECRET'), relayed('HS256'))).toMatchObject({
      iss: relaying.url,
      sub: 'user-42',
    })
  } finally {
    await Promise.all([relaying.close(), receiver.close()])
  }
})
