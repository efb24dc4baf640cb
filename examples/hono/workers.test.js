// The Hono app as a Cloudflare Worker (worker.js), bundled with esbuild and run by workerd through
// Miniflare, on loopback: the Worker fetches the provider's keys with its own fetch.
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, it } from 'vitest'
import { buildWorker } from './build-worker.js'
import { expectLogoutEndsOneSession, freePort, providerFor } from './runtime.js'

let idp
let worker
let url

beforeAll(async () => {
  const port = await freePort()
  const provider = await providerFor('hono-worker', `http://127.0.0.1:${port}`)
  idp = provider.idp
  worker = new Miniflare({
    modules: true,
    script: await buildWorker(),
    compatibilityDate: '2026-01-01',
    compatibilityFlags: ['nodejs_compat'], // the memory store's node:crypto
    cf: false, // else Miniflare fetches a Request.cf sample from Cloudflare
    bindings: provider.settings,
    host: '127.0.0.1',
    port,
  })
  url = (await worker.ready).origin
})
afterAll(async () => {
  await worker?.dispose()
  await idp?.close()
})

it("ends the signed-out user's session and no one else's, on workerd", async () => {
  await expectLogoutEndsOneSession(url, idp, 'hono-worker')
})
