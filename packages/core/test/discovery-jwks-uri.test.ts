/**
 * A discovery document whose `jwks_uri` names a non-public address is refused at discovery (so at
 * registration and at rediscovery), by the address policy, before anything connects to it. The
 * issuer is an HTTPS server on loopback, trusted by host name only; no insecure permission.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { discoverIssuer } from '../src/discovery/index.js'

let server: https.Server
let issuer: string
let jwksUri: string
const connectedTo: string[] = []
const agent = https.globalAgent
const createConnection = agent.createConnection
const defaultCa = agent.options.ca

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bc-tls-'))
  // A self-signed certificate for 127.0.0.1, trusted by this process's HTTPS agent only.
  const args = 'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1'.split(' ')
  args.push('-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'))
  execFileSync('openssl', args, { stdio: 'ignore' })
  const cert = readFileSync(join(dir, 'cert.pem'))
  const key = readFileSync(join(dir, 'key.pem'))
  rmSync(dir, { recursive: true, force: true })
  agent.options.ca = cert
  agent.createConnection = function (this: https.Agent, options, callback) {
    connectedTo.push(String(options.host))
    return createConnection.call(this, options, callback)
  }
  server = https.createServer({ cert, key }, (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: jwksUri })),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  agent.createConnection = createConnection
  agent.options.ca = defaultCa
  await new Promise((resolve) => server?.close(resolve))
})

const policy = { trustedHosts: ['127.0.0.1'] }

it('accepts the trusted issuer with a jwks_uri on the same trusted host', async () => {
  jwksUri = `${issuer}/jwks`
  await expect(discoverIssuer(issuer, { clientId: 'c', fetchPolicy: policy })).resolves.toMatchObject({ jwksUri })
  expect(connectedTo).toEqual(['127.0.0.1']) // what connects is recorded
})

it('refuses a jwks_uri at a link-local address, before connecting to it', async () => {
  jwksUri = 'https://169.254.169.254/jwks'
  const refused = discoverIssuer(issuer, { clientId: 'c', fetchPolicy: policy })
  await expect(refused).rejects.toMatchObject({
    code: 'ERR_ISSUER_ADDRESS_FORBIDDEN',
    message: expect.stringContaining('jwks_uri https://169.254.169.254/jwks is not at a public address'),
  })
  expect(connectedTo).not.toContain('169.254.169.254')
})

it('refuses a jwks_uri on plain http: without the insecure permission', async () => {
  jwksUri = `${issuer.replace('https:', 'http:')}/jwks`
  await expect(discoverIssuer(issuer, { clientId: 'c', fetchPolicy: policy })).rejects.toMatchObject({
    code: 'ERR_ISSUER_INSECURE',
  })
})
