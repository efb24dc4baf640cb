// The Hono app on Deno (deno.js): Deno's server and fetch, sessions in Redis over TCP. Deno reads
// the packages pnpm installed (node_modules), with no permission beyond loopback and its env.

import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, inject, it } from 'vitest'
import { expectLogoutEndsOneSession, freePort, providerFor, startProcess } from './runtime.js'

const deno = join(dirname(createRequire(import.meta.url).resolve('deno/package.json')), 'deno')
const redisUrl = inject('redisUrl')
let idp
let app

beforeAll(async () => {
  const port = await freePort()
  const provider = await providerFor('hono-deno', `http://127.0.0.1:${port}`)
  idp = provider.idp
  const redis = redisUrl ? new URL(redisUrl) : undefined
  const env = { ...provider.settings, PORT: String(port), ...(redis ? { REDIS_URL: `${redisUrl}/12` } : {}) }
  const net = ['127.0.0.1', new URL(provider.settings.ISSUER).host, ...(redis ? [redis.host] : [])]
  const args = [
    'run',
    '--no-prompt',
    '--cached-only',
    `--allow-net=${net.join(',')}`,
    '--allow-env',
    '--allow-read',
    '--allow-sys',
  ]
  app = await startProcess(deno, [...args, 'deno.js'], env, import.meta.dirname)
})
afterAll(async () => {
  await app?.stop()
  await idp?.close()
})

it("ends the signed-out user's session and no one else's, on Deno", async () => {
  await expectLogoutEndsOneSession(app.url, idp, 'hono-deno')
})
