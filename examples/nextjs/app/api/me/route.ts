// Every request checks the session: one that a logout ended is signed out here too.
import { cookies } from 'next/headers'
import { backchannel } from '../../../lib/backchannel'

export const dynamic = 'force-dynamic'

export async function GET(): Promise<Response> {
  const { oidcApp, store, users } = backchannel()
  const sessionId = (await cookies()).get('session')?.value ?? ''
  const user = users.get(sessionId)
  if (!user || (await store.status(oidcApp.name, sessionId)).state !== 'active') {
    users.delete(sessionId)
    return Response.json({ error: 'not signed in' }, { status: 401 })
  }
  return Response.json({ user })
}
