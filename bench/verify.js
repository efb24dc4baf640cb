// One runtime's verification loop, for runtimes.js: core's logout verifier on the tokens in the
// file BENCH_TOKENS, one after the other, after a warm-up. It runs unchanged on Node, Bun and Deno
// (each has `process.cpuUsage`). Prints one JSON object.
import { readFileSync } from 'node:fs'
import { createKeyResolver, createLogoutVerifier } from '@backchannel/core'

const { issuer, clientId, jwks, tokens, warmUp } = JSON.parse(readFileSync(process.env.BENCH_TOKENS, 'utf8'))
// The issuer's key set from memory: the loop measures verification, not the network.
const keys = createKeyResolver({ fetch: async () => Response.json(jwks) })
const verifier = createLogoutVerifier({ keys })
const app = { kind: 'oidc', name: 'bench', issuer, clientId, jwksUri: `${issuer}/jwks` }

for (const token of tokens.slice(0, warmUp)) await verifier.verify(token, app)
const measured = tokens.slice(warmUp)
const cpu = process.cpuUsage()
const start = performance.now()
for (const token of measured) await verifier.verify(token, app)
const wallMs = performance.now() - start
const { user, system } = process.cpuUsage(cpu)
const version = globalThis.Bun
  ? `Bun ${Bun.version}`
  : globalThis.Deno
    ? `Deno ${Deno.version.deno}`
    : `Node ${process.version}`
console.log(
  JSON.stringify({
    version,
    verifies: measured.length,
    cpuUs: (user + system) / measured.length,
    wallUs: (wallMs * 1000) / measured.length,
  }),
)
