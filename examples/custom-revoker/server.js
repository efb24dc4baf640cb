// The gateway with sessions in your own PostgreSQL table: apps and the audit log stay in the
// gateway's store, sessions are registered, queried and revoked in SQL.
//   BACKCHANNEL_ADMIN_TOKEN=… PGDATA=./pgdata node server.js

import { hashToken } from '@backchannel/admin'
import { createGateway } from '@backchannel/server'
import { fsStore } from '@backchannel/unstorage/fs'
import { PGlite } from '@electric-sql/pglite'
import { serve } from 'h3'
import { createSqlSessions } from './sql-sessions.js'

/** Builds the gateway over a PGlite database; `store` keeps apps and the audit log. */
export async function createSqlGateway({ db, store, adminToken }) {
  const sessions = await createSqlSessions({ db })
  return createGateway({ store, sessions, adminTokenHash: hashToken(adminToken) })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const adminToken = process.env.BACKCHANNEL_ADMIN_TOKEN
  if (!adminToken) throw new Error('set BACKCHANNEL_ADMIN_TOKEN')
  const gateway = await createSqlGateway({
    db: new PGlite(process.env.PGDATA ?? './pgdata'),
    store: await fsStore({ base: './.backchannel' }),
    adminToken,
  })
  const server = serve(gateway.app, { port: Number(process.env.PORT ?? 3300), silent: true })
  await server.ready()
  console.log(`gateway with SQL sessions on ${server.url}`)
}
