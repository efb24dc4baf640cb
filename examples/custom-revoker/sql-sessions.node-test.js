// The same conformance suite under node:test, for a project that does not use vitest:
// `node --test sql-sessions.node-test.js` (after `pnpm build` at the repository root, which builds
// @backchannel/core). Only the import differs from sql-sessions.test.js.

import { after } from 'node:test'
import { describeSessionStore } from '@backchannel/core/testing/node'
import { PGlite } from '@electric-sql/pglite'
import { createSqlSessions } from './sql-sessions.js'

// Creating a PGlite database takes seconds: one for the file, a fresh schema for each case.
const db = new PGlite()
let n = 0
after(() => db.close())

describeSessionStore('PostgreSQL sessions table (PGlite)', async (clock) => ({
  store: await createSqlSessions({ db, schema: `test_${++n}`, now: clock.now }),
}))
