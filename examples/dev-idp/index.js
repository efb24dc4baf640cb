// A development OpenID Provider (panva's oidc-provider) for trying Backchannel on one machine.
// Its client "demo" has the gateway's /auth/logout/demo as back-channel logout URL, and
// POST /dev/logout makes the provider send a real back-channel logout for a user's session,
// the request it sends when that user signs out. Not for production: keys are made at start.
//
//   node index.js                       listens on http://localhost:4000
//   IDP_PORT=4001 GATEWAY_URL=http://localhost:3001 node index.js
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import Provider from 'oidc-provider'

const port = Number(process.env.IDP_PORT ?? 4000)
const gateway = (process.env.GATEWAY_URL ?? 'http://localhost:3000').replace(/\/$/, '')
const issuer = `http://localhost:${port}`
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'demo',
      redirect_uris: ['http://localhost:3000/callback'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'none',
      backchannel_logout_uri: `${gateway}/auth/logout/demo`,
      backchannel_logout_session_required: true,
    },
  ],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'dev-key', alg: 'RS256', use: 'sig' }] },
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

const callback = provider.callback()
createServer(async (req, res) => {
  if (req.method === 'POST' && req.url === '/dev/logout') {
    let body = ''
    for await (const chunk of req) body += chunk
    const form = new URLSearchParams(body)
    const client = await provider.Client.find(form.get('client_id') ?? 'demo')
    try {
      await client.backchannelLogout(form.get('sub') ?? '', form.get('sid') ?? '')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"sent":true}\n')
    } catch (err) {
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ sent: false, error: err.message })}\n`)
    }
    return
  }
  callback(req, res)
}).listen(port, () => console.log(`dev identity provider on ${issuer} (logouts go to ${gateway}/auth/logout/demo)`))
