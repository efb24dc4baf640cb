// A development OpenID Provider: panva's oidc-provider with back-channel logout enabled, on
// loopback, with keys made at start. For trying Backchannel and for tests; not for production.
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import Provider from 'oidc-provider'

/** Starts the provider; see provider.d.ts for the options. */
export async function startDevIdp({ port = 0, host = '127.0.0.1', issuerHost = host, clients }) {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
  const server = createServer()
  await new Promise((resolve) => server.listen(port, host, resolve))
  const issuer = `http://${issuerHost}:${server.address().port}`
  const provider = new Provider(issuer, {
    clients: clients.map((client) => ({
      redirect_uris: ['http://localhost/callback'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'none',
      backchannel_logout_session_required: true,
      ...client,
    })),
    jwks: {
      keys: [
        { ...rsa, kid: 'rs256-key', alg: 'RS256', use: 'sig' },
        { ...ec, kid: 'es256-key', alg: 'ES256', use: 'sig' },
      ],
    },
    features: {
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      devInteractions: { enabled: true },
    },
    cookies: { keys: ['dev-idp-cookie-key'] },
    // oidc-provider refuses to call loopback addresses through its own dispatcher.
    fetch: (url, options = {}) => {
      delete options.dispatcher
      return fetch(url, options)
    },
  })

  /** The provider signs `sub`'s session `sid` out and sends the client its logout token. */
  async function logout(clientId, sub, sid) {
    const client = await provider.Client.find(clientId)
    if (!client) throw new Error(`no client ${clientId}`)
    await client.backchannelLogout(sub, sid)
  }

  const callback = provider.callback()
  server.on('request', async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/dev/logout') return callback(req, res)
    let body = ''
    for await (const chunk of req) body += chunk
    const form = new URLSearchParams(body)
    try {
      await logout(form.get('client_id') ?? '', form.get('sub') ?? '', form.get('sid') ?? '')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"sent":true}\n')
    } catch (err) {
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ sent: false, error: err.message })}\n`)
    }
  })

  return { issuer, logout, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

/**
 * For an app's tests: a server on a free loopback port, not yet handling requests, and the
 * provider with one client whose logouts go to that server's `path` (the provider needs the
 * app's URL, and the app the provider's issuer).
 */
export async function startWithDevIdp({ clientId, path = '/backchannel-logout' }) {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  const idp = await startDevIdp({ clients: [{ client_id: clientId, backchannel_logout_uri: `${url}${path}` }] })
  return { server, url, idp }
}
