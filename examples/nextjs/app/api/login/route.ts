// Stands in for your OIDC callback: once the ID token is verified, keep its sub and sid and
// register the session with Backchannel. The session id goes in a cookie.
import { cookies } from 'next/headers'
import { backchannel } from '../../../lib/backchannel'

export const dynamic = 'force-dynamic'

export async function GET(request: Request): Promise<Response> {
  const { oidcApp, store, users } = backchannel()
  const query = new URL(request.url).searchParams
  const sub = query.get('sub') ?? ''
  const sid = query.get('sid') ?? undefined
  const sessionId = crypto.randomUUID()
  await store.register({ app: oidcApp.name, iss: oidcApp.issuer, sessionId, sub, ...(sid ? { sid } : {}) })
  users.set(sessionId, sub)
  ;(await cookies()).set('session', sessionId, { httpOnly: true, sameSite: 'lax' })
  return Response.json({ user: sub })
}
