// The gateway as `backchannel serve` builds it, with sessions registered in process and the CPU
// profiler started only once they are (so the profile shows the logout path, not the set-up).
// SIGTERM stops the profiler and writes PROFILE_FILE. Used by profile.js.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { hashToken } from '@backchannel/admin'
import { createGateway, createLogger, loadConfig, openStore } from '@backchannel/server'
import { serve } from 'h3'

const { ISSUER, CLIENT_ID, TOKENS, PROFILE_FILE } = process.env
const config = loadConfig(process.env)
const store = await openStore(config)
await store.apps.create({
  kind: 'oidc',
  name: 'bench',
  issuer: ISSUER,
  clientId: CLIENT_ID,
  jwksUri: `${ISSUER}/jwks`,
  apiKeyHash: hashToken('unused'),
  createdAt: 0,
  updatedAt: 0,
})
for (let i = 0; i < Number(TOKENS); i += 500) {
  await Promise.all(
    Array.from({ length: Math.min(500, Number(TOKENS) - i) }, (_, j) =>
      store.register({ app: 'bench', iss: ISSUER, sessionId: `s-${i + j}`, sub: `user-${i + j}`, sid: `sid-${i + j}` }),
    ),
  )
}
const gateway = createGateway({
  store,
  adminTokenHash: hashToken(config.adminToken ?? 'unused'),
  logger: createLogger(config.logLevel),
  fetchPolicy: { allowInsecure: true },
})
const server = serve(gateway.app, { port: 0, hostname: '127.0.0.1', silent: true })
await server.ready()
const session = new Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.start')
console.error(`listening on ${server.url}`.replace(/\/$/, ''))
process.once('SIGTERM', async () => {
  const { profile } = await session.post('Profiler.stop')
  writeFileSync(PROFILE_FILE, JSON.stringify(profile))
  await server.close()
  process.exit(0)
})
