// The gateway as `backchannel serve` builds it, with sessions registered in process.
// PROFILE_FILE: the CPU profiler runs from the moment the sessions are registered (so the profile
// shows the logout path, not the set-up) and is written there at SIGTERM. Used by profile.js.
// With PROFILE_KIND=survivors (and node's --expose-gc) it is V8's sampling heap profiler instead,
// keeping only what outlived the young generation: objects still alive, and those a major
// collection freed. At SIGTERM two minor collections first drop the young garbage left.
// STRIP=audit,claim,revoke,metrics,log: those parts of a logout's work do nothing, to measure what
// each costs (ablate.js). Never a way to run the gateway: each protects something.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { hashToken } from '@backchannel/admin'
import { createGateway, createLogger, createMetrics, loadConfig, openStore } from '@backchannel/server'
import { serve } from 'h3'

const { ISSUER, CLIENT_ID, TOKENS, PROFILE_FILE, PROFILE_KIND = 'cpu' } = process.env
const strip = new Set((process.env.STRIP ?? '').split(',').filter(Boolean))
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

const metrics = createMetrics()
if (strip.has('metrics')) {
  for (const metric of [metrics.logouts, metrics.latency, metrics.revoked]) {
    metric.inc = () => {}
    metric.observe = () => {}
  }
}
if (strip.has('audit')) store.audit.record = async (entry) => entry
if (strip.has('claim')) store.claim = async () => true
if (strip.has('revoke')) store.revoke = async () => ({ revoked: 1 })
// The flow claims and revokes in one call where the store can: without one part, the other alone.
if (store.claimAndRevoke && (strip.has('claim') || strip.has('revoke'))) {
  store.claimAndRevoke = async (key, expiresAt, target) => {
    if (!(await store.claim(key, expiresAt))) return { claimed: false }
    return { claimed: true, ...(await store.revoke(target)) }
  }
}
const gateway = createGateway({
  store,
  adminTokenHash: hashToken(config.adminToken ?? 'unused'),
  logger: createLogger(strip.has('log') ? 'silent' : config.logLevel),
  metrics,
  fetchPolicy: { allowInsecure: true },
})
const server = serve(gateway.app, { port: 0, hostname: '127.0.0.1', silent: true })
await server.ready()
const session = PROFILE_FILE ? new Session() : undefined
const survivors = PROFILE_KIND === 'survivors'
if (session) {
  session.connect()
  await session.post(survivors ? 'HeapProfiler.enable' : 'Profiler.enable')
  if (survivors) {
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 8192,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: false,
    })
  } else await session.post('Profiler.start')
}
console.error(`listening on ${server.url}`.replace(/\/$/, ''))
process.once('SIGTERM', async () => {
  if (session) {
    if (survivors) for (let i = 0; i < 2; i++) globalThis.gc({ type: 'minor' })
    const { profile } = await session.post(survivors ? 'HeapProfiler.stopSampling' : 'Profiler.stop')
    writeFileSync(PROFILE_FILE, JSON.stringify(profile))
  }
  await server.close()
  process.exit(0)
})
