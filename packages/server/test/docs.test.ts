/**
 * docs/integrating.md works as written: its Node.js snippet for applications without OIDC and its
 * `backchannel token` line, run as they stand (with the gateway's address filled in) against a
 * gateway process, end the user's sessions.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, type GatewayProcess, startGateway } from './fixtures/gateway-process.js'

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
