// The development OpenID Provider for the README walk-through, on http://localhost:4000.
// Its client "demo" sends back-channel logouts to the gateway's /auth/logout/demo; POST
// /dev/logout (client_id, sub, sid) makes it send one, as when that user signs out.
//
//   node index.js            IDP_PORT=4001 GATEWAY_URL=http://localhost:3001 node index.js
//   LOGOUT_URL=http://localhost:3100/backchannel-logout node index.js   (an app's own logout route)
import { startDevIdp } from './provider.js'

const gateway = (process.env.GATEWAY_URL ?? 'http://localhost:3000').replace(/\/$/, '')
const logoutUrl = process.env.LOGOUT_URL ?? `${gateway}/auth/logout/demo`
const idp = await startDevIdp({
  port: Number(process.env.IDP_PORT ?? 4000),
  host: '::',
  issuerHost: 'localhost',
  clients: [{ client_id: 'demo', backchannel_logout_uri: logoutUrl }],
})
console.log(`dev identity provider on ${idp.issuer} (logouts go to ${logoutUrl})`)
