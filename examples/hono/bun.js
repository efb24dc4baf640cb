// bun bun.js — Bun's own server and fetch. ISSUER, JWKS_URI, CLIENT_ID (see appFromEnv), REDIS_URL
// (sessions and revocations over TCP, else in memory; see stores.js), PORT, HOST; DEVELOPMENT=true
// for an http:// issuer.
import { createKeyResolver } from '@backchannel/core'
import { appFromEnv, createApp } from './app.js'
import { storeFromEnv } from './stores.js'

const env = process.env
const app = createApp({
  oidcApp: appFromEnv(env),
  store: storeFromEnv(env),
  keys: createKeyResolver({ fetchPolicy: { allowInsecure: env.DEVELOPMENT === 'true' } }),
})
const server = Bun.serve({ fetch: app.fetch, port: Number(env.PORT ?? 3200), hostname: env.HOST ?? '127.0.0.1' })
console.log(`listening on ${server.url}`)
