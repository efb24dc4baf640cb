// The Hono app on Bun (bun.js): Bun's server and fetch, sessions in Redis over TCP.

import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { expectLogoutEndsOneSession, freePort, providerFor, startProcess } from './runtime.js'

const bun = join(dirname(createRequire(import.meta.url).resolve('bun/package.json')), 'bin/bun.exe')
const redisUrl = inject('redisUrl')
let idp
let app

beforeAll(async () => {
  const port = await freePort()
  const provider = await providerFor('hono-bun', `http://127.0.0.1:${port}`)
  idp = provider.idp
  const env = { ...provider.settings, PORT: String(port), ...(redisUrl ? { REDIS_URL: `${redisUrl}/11` } : {}) }
  app = await startProcess(bun, ['bun.js'], env, import.meta.dirname)
})
afterAll(async () => {
  await app?.stop()
  await idp?.close()
})

it("ends the signed-out user's session and no one else's, on Bun", async () => {
  expect(app.url).toBe(`http://127.0.0.1:${new URL(app.url).port}`)
  await expectLogoutEndsOneSession(app.url, idp, 'hono-bun')
})
