// deno run --allow-net --allow-env --allow-read deno.js — Deno's own server and fetch. ISSUER,
// JWKS_URI, CLIENT_ID (see appFromEnv), REDIS_URL (sessions and revocations over TCP, else in
// memory), PORT, HOST; DEVELOPMENT=true for http://.
import { createKeyResolver } from '@backchannel/core'
import { appFromEnv, createApp } from './app.js'
import { storeFromEnv } from './stores.js'

const env = Deno.env.toObject()
const app = createApp({
  oidcApp: appFromEnv(env),
  store: storeFromEnv(env),
  keys: createKeyResolver({ fetchPolicy: { allowInsecure: env.DEVELOPMENT === 'true' } }),
})
Deno.serve(
  {
    port: Number(env.PORT ?? 3200),
    hostname: env.HOST ?? '127.0.0.1',
    onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}/`),
  },
  app.fetch,
)
