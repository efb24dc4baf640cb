/**
 * docs/http-api.md works as written: its Python (requests) and curl snippets, read from the file
 * and run as they stand (with the gateway's address filled in) against a gateway process, do what
 * their comments say. Without python3 and requests the Python one is skipped, saying why, except
 * in CI, which installs them (.ci/run).
 */
import { execFile, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type GatewayProcess, startGateway } from './fixtures/gateway-process.js'

const run = promisify(execFile)
const doc = await readFile(new URL('../../../docs/http-api.md', import.meta.url), 'utf8')

/** The first interpreter that imports requests (pyenv's python3 may shadow Debian's python3-requests). */
const python = ['python3', '/usr/bin/python3'].find(
  (bin) => spawnSync(bin, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0,
)
const skipPython = python === undefined && !process.env.CI
if (skipPython) console.warn('SKIPPED the Python snippet of docs/http-api.md: no python3 with requests on PATH')

let gateway: GatewayProcess
let env: NodeJS.ProcessEnv
let cwd: string

beforeAll(async () => {
  gateway = await startGateway()
  const { apiKey } = await gateway.admin.apps.create.mutate({ name: 'billing' })
  env = { ...process.env, APP_API_KEY: apiKey }
  cwd = await mkdtemp(join(tmpdir(), 'backchannel-http-api-'))
})
afterAll(async () => {
  await gateway?.stop()
  if (cwd) await rm(cwd, { recursive: true, force: true })
})

/** The code block that follows `marker` in the doc, with the gateway's address filled in. */
function snippet(marker: string): string {
  const after = doc.slice(doc.indexOf(marker))
  const code = /```\w*\n([\s\S]*?)```/.exec(after)?.[1]
  if (!doc.includes(marker) || !code) throw new Error(`no code block after ${marker}`)
  return code.replaceAll('https://<gateway>', gateway.url)
}

const state = async (sessionId: string) =>
  (await gateway.admin.sessions.status.query({ app: 'billing', sessionId })).state

it.skipIf(skipPython)('the Python (requests) snippet registers a session, reads its state and an error', async () => {
  if (!python) throw new Error('CI needs python3 with requests (.ci/run installs python3-requests)')
  const { stdout } = await run(python, ['-c', snippet('**Python** (requests)')], { env, cwd })
  expect(stdout.trim().split('\n')).toEqual([
    'active',
    expect.stringMatching(/^400 BAD_REQUEST: sessionId: /) as unknown as string,
  ])
  expect(await state('s-123')).toBe('active')
})

it('the curl snippet fetches the document, revokes the sessions of a user and reads the state', async () => {
  await gateway.admin.sessions.register.mutate({ app: 'billing', sessionId: 's-123', sub: 'user-42' })
  const { stdout } = await run('sh', ['-ec', snippet('**curl**')], { env, cwd })
  const answers = stdout
    .replaceAll('}{', '}\n{')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  expect(answers).toEqual([
    { result: { data: { revoked: 1 } } },
    { result: { data: { state: 'revoked', revokedAt: expect.any(Number) } } },
  ])
  const saved = JSON.parse(await readFile(join(cwd, 'backchannel-openapi.json'), 'utf8')) as { openapi: string }
  expect(saved.openapi).toBe('3.1.0')
  expect(await state('s-123')).toBe('revoked')
})
