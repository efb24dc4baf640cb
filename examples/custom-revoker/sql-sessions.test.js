// The SQL session store passes the same conformance suite as Backchannel's own stores, then runs
// as a revoker plugin under the real gateway (`pnpm start`'s command), which a logout reaches over
// a socket.

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAdminClient } from '@backchannel/admin/client'
import { describeSessionStore } from '@backchannel/core/testing/vitest'
import { PGlite } from '@electric-sql/pglite'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createSqlSessions } from './sql-sessions.js'

// Creating a PGlite database takes seconds: one for the file, a fresh schema for each test.
const db = new PGlite()
let n = 0

describeSessionStore('PostgreSQL sessions table (PGlite)', async (clock) => ({
  store: await createSqlSessions({ db, schema: `test_${++n}`, now: clock.now }),
}))

const here = fileURLToPath(new URL('.', import.meta.url))
const ADMIN_TOKEN = 'bca_sql-example-admin-token-000'

/** `backchannel serve --revoker ./revoker.js` on a free loopback port; resolves once it listens. */
async function startGateway(pgdata) {
  const child = spawn(join(here, 'node_modules/.bin/backchannel'), ['serve', '--revoker', './revoker.js'], {
    cwd: here,
    env: {
      ...process.env,
      PGDATA: pgdata,
      PORT: '0',
      HOST: '127.0.0.1',
      BACKCHANNEL_STORAGE: 'memory://',
      BACKCHANNEL_ADMIN_TOKEN: ADMIN_TOKEN,
    },
  })
  let stderr = ''
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const found = /listening on (http:\/\/\S+)/.exec(stderr)?.[1]
      if (found) resolve(found)
    })
    child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}:\n${stderr}`)))
  })
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve)
      child.kill('SIGTERM')
    })
  return { url, stop }
}

describe('run by the gateway as a revoker plugin', () => {
  it('registers sessions in SQL and ends them when the application logs its user out', async () => {
    const pgdata = mkdtempSync(join(tmpdir(), 'pgdata-'))
    try {
      const gateway = await startGateway(pgdata)
      try {
        const admin = createAdminClient({ url: `${gateway.url}/trpc`, token: ADMIN_TOKEN })
        const { secret } = await admin.apps.create.mutate({ name: 'shop' })
        await admin.sessions.register.mutate({ app: 'shop', sessionId: 'cart-1', sub: 'user-42' })
        await admin.sessions.register.mutate({ app: 'shop', sessionId: 'cart-2', sub: 'user-7' })

        const token = await new SignJWT({ sub: 'user-42' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuedAt()
          .sign(new TextEncoder().encode(secret))
        const res = await fetch(`${gateway.url}/auth/logout/shop`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `logout_token=${token}`,
        })
        expect(res.status).toBe(200)
      } finally {
        // SIGTERM: the gateway finishes, then runs the plugin's close(), which closes the database.
        expect(await gateway.stop()).toBe(0)
      }

      const sql = new PGlite(pgdata)
      const { rows } = await sql.query(
        `select session_id, revoked_at is not null as revoked from backchannel.sessions where app = 'shop' order by session_id`,
      )
      await sql.close()
      expect(rows).toEqual([
        { session_id: 'cart-1', revoked: true },
        { session_id: 'cart-2', revoked: false },
      ])
    } finally {
      rmSync(pgdata, { recursive: true, force: true })
    }
    // PGlite creates its database files in the gateway, then opens them again here: seconds each.
  }, 90_000)
})
