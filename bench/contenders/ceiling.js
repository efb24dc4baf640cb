// The ceiling: a minimal h3 server that only verifies the logout token with jose — the same key
// and the same checks as the gateway (alg, iss, aud, iat/exp, jti, events, sub/sid, no nonce) —
// and answers 200. Nothing is stored. The most any gateway on this stack could do.

import { H3, serve } from 'h3'
import { createLocalJWKSet, jwtVerify } from 'jose'

const { ISSUER, CLIENT_ID, PORT } = process.env
const keys = createLocalJWKSet(await (await fetch(`${ISSUER}/jwks`)).json())
const EVENT = 'http://schemas.openid.net/event/backchannel-logout'

const app = new H3().post('/auth/logout/:app', async (event) => {
  const body = new URLSearchParams(await event.req.text())
  try {
    const { payload } = await jwtVerify(body.get('logout_token') ?? '', keys, {
      algorithms: ['RS256'],
      issuer: ISSUER,
      audience: CLIENT_ID,
      maxTokenAge: 3600,
      clockTolerance: 60,
      requiredClaims: ['iat', 'exp', 'jti'],
    })
    const events = payload.events?.[EVENT]
    if (typeof events !== 'object' || events === null || (!payload.sub && !payload.sid) || payload.nonce)
      throw new Error()
    return new Response(null, { headers: { 'cache-control': 'no-store' } })
  } catch {
    return Response.json({ error: 'invalid_request' }, { status: 400, headers: { 'cache-control': 'no-store' } })
  }
})
const server = serve(app, { port: Number(PORT ?? 0), hostname: '127.0.0.1', silent: true })
await server.ready()
console.error(`listening on ${server.url}`.replace(/\/$/, ''))
