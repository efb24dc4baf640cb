// A Cloudflare Worker: the same app, its settings from the Worker's bindings (ISSUER, JWKS_URI,
// CLIENT_ID, DEVELOPMENT); wrangler (or esbuild, as the test does) bundles it. Sessions live in the
// isolate's memory, which is enough for one isolate (the test, `wrangler dev`); a deployed Worker
// runs many, so put the store in a Durable Object there.
import { createKeyResolver } from '@backchannel/core'
import { memoryStore } from '@backchannel/unstorage/memory'
import { appFromEnv, createApp } from './app.js'

let app
export default {
  fetch(request, env, ctx) {
    // Bindings reach the Worker with the first request; the key set cache lives as long as the isolate.
    app ??= createApp({
      oidcApp: appFromEnv(env),
      store: memoryStore(),
      keys: createKeyResolver({ fetchPolicy: { allowInsecure: env.DEVELOPMENT === 'true' } }),
    })
    return app.fetch(request, env, ctx)
  },
}
