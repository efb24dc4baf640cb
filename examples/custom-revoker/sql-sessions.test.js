// The SQL session store passes the same conformance suite as Backchannel's own stores, then
// serves a real logout inside the gateway.

import { createAdminClient } from '@backchannel/admin/client'
import { describeSessionStore } from '@backchannel/core/testing'
import { memoryStore } from '@backchannel/unstorage/memory'
import { PGlite } from '@electric-sql/pglite'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createSqlGateway } from './server.js'
import { createSqlSessions } from './sql-sessions.js'

// Creating a PGlite database takes seconds: one for the file, a fresh schema for each test.
const db = new PGlite()
let n = 0

describeSessionStore('PostgreSQL sessions table (PGlite)', async (clock) => ({
  store: await createSqlSessions({ db, schema: `test_${++n}`, now: clock.now }),
}))

describe('plugged into the gateway', () => {
  it('registers sessions in SQL and ends them when the application logs its user out', async () => {
    const gateway = await createSqlGateway({ db, store: memoryStore(), adminToken: 'bca_sql-example-admin-token-000' })
    const admin = createAdminClient({
      url: 'http://gateway/trpc',
      token: 'bca_sql-example-admin-token-000',
      fetch: (input, init) => gateway.fetch(new Request(input, init)),
    })
    const { secret } = await admin.apps.create.mutate({ name: 'shop' })
    await admin.sessions.register.mutate({ app: 'shop', sessionId: 'cart-1', sub: 'user-42' })
    await admin.sessions.register.mutate({ app: 'shop', sessionId: 'cart-2', sub: 'user-7' })

    const token = await new SignJWT({ sub: 'user-42' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .sign(new TextEncoder().encode(secret))
    const res = await gateway.fetch(
      new Request('http://gateway/auth/logout/shop', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `logout_token=${token}`,
      }),
    )
    expect(res.status).toBe(200)

    const { rows } = await db.query(
      `select session_id, revoked_at is not null as revoked from backchannel.sessions where app = 'shop' order by session_id`,
    )
    expect(rows).toEqual([
      { session_id: 'cart-1', revoked: true },
      { session_id: 'cart-2', revoked: false },
    ])
  })
})
