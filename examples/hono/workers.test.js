// The Hono app as a Cloudflare Worker (worker.js), bundled with esbuild as wrangler would and run
// by workerd through Miniflare, on loopback: the Worker fetches the provider's keys with its own fetch.
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, it } from 'vitest'
import { expectLogoutEndsOneSession, freePort, providerFor } from './runtime.js'

/** worker.js as one module, with wrangler's conditions; node: built-ins come from `nodejs_compat`. */
async function buildWorker() {
  const result = await build({
    entryPoints: [`${import.meta.dirname}/worker.js`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['node:*'],
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0].text
}

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
