// The revoker plugin: `backchannel serve --revoker ./revoker.js` runs the real gateway (its logs,
// signals, admin API, metrics and store) with sessions registered, queried and ended in your own
// PostgreSQL table. Applications and the audit log stay in the gateway's store.
//   PGDATA=./pgdata backchannel serve --revoker ./revoker.js

import { defineRevokerPlugin } from '@backchannel/server'
import { PGlite } from '@electric-sql/pglite'
import { createSqlSessions } from './sql-sessions.js'

export default defineRevokerPlugin(async ({ logger }) => {
  const pgdata = process.env.PGDATA ?? './pgdata'
  const db = new PGlite(pgdata)
  // A whole SessionStore, not only a revoker: the session API (register, status, list, end) uses it too.
  const sessions = await createSqlSessions({ db })
  logger.info({ pgdata }, 'sessions in PostgreSQL (PGlite)')
  return { revoker: sessions, close: () => db.close() }
})
