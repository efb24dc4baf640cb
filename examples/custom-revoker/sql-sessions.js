// A SessionStore over an application's own sessions table in PostgreSQL (here PGlite, a real
// PostgreSQL compiled to WebAssembly; node-postgres' Pool has the same query() shape).
// A logout updates the matching rows and records itself in `logouts` in one transaction, so a
// session registered after its logout is born revoked.
import { isSubjectWide } from '@backchannel/core'

const DAY = 86400

/**
 * @param {object} options
 * @param {{ query: Function, transaction: Function, exec: Function }} options.db  a PGlite database
 * @param {string} [options.schema]  where the tables live (default "backchannel")
 * @param {() => number} [options.now]  the clock, seconds since epoch
 * @returns {Promise<import('@backchannel/core').SessionStore>}
 */
export async function createSqlSessions({ db, schema = 'backchannel', now = () => Date.now() / 1000 }) {
  const s = `"${schema.replaceAll('"', '')}"`
  await db.exec(`
    create schema if not exists ${s};
    create table if not exists ${s}.sessions (
      app text not null, session_id text not null, iss text not null, sub text not null, sid text,
      auth_time double precision not null, created_at double precision not null,
      expires_at double precision not null, revoked_at double precision,
      primary key (app, session_id));
    create index if not exists sessions_by_sub on ${s}.sessions (app, iss, sub);
    create index if not exists sessions_by_sid on ${s}.sessions (app, iss, sid);
    create table if not exists ${s}.logouts (
      app text not null, iss text not null, kind text not null, value text not null,
      issued_at double precision not null, revoked_at double precision not null,
      expires_at double precision not null, primary key (app, iss, kind, value));`)

  const toRecord = (r) => ({
    app: r.app,
    iss: r.iss,
    sessionId: r.session_id,
    sub: r.sub,
    ...(r.sid === null ? {} : { sid: r.sid }),
    authTime: r.auth_time,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at }),
  })
  const live = `expires_at > $${1}`

  return {
    async register({ app, iss, sessionId, sub, sid, authTime, expiresAt }) {
      const t = now()
      const { rows } = await db.query(
        `insert into ${s}.sessions values ($2, $3, $4, $5, $6, $7, $1, $8,
           (select min(revoked_at) from ${s}.logouts l where l.app = $2 and l.iss = $4 and l.${live}
              and ((l.kind = 'sid' and l.value = $6) or (l.kind = 'sub' and l.value = $5 and l.issued_at >= $7))))
         on conflict (app, session_id) do update set iss = excluded.iss, sub = excluded.sub, sid = excluded.sid,
           auth_time = excluded.auth_time, created_at = excluded.created_at, expires_at = excluded.expires_at,
           revoked_at = excluded.revoked_at
         returning *`,
        [t, app, sessionId, iss, sub, sid ?? null, authTime ?? t, expiresAt ?? t + 30 * DAY],
      )
      return toRecord(rows[0])
    },

    async status(app, sessionId) {
      const { rows } = await db.query(
        `select revoked_at from ${s}.sessions where ${live} and app = $2 and session_id = $3`,
        [now(), app, sessionId],
      )
      if (!rows[0]) return { state: 'unknown' }
      return rows[0].revoked_at === null ? { state: 'active' } : { state: 'revoked', revokedAt: rows[0].revoked_at }
    },

    async list(app, iss, sub) {
      const { rows } = await db.query(
        `select * from ${s}.sessions where ${live} and app = $2 and iss = $3 and sub = $4 order by created_at`,
        [now(), app, iss, sub],
      )
      return rows.map(toRecord)
    },

    async end(app, sessionId) {
      const { affectedRows } = await db.query(
        `update ${s}.sessions set revoked_at = $1 where ${live} and app = $2 and session_id = $3 and revoked_at is null`,
        [now(), app, sessionId],
      )
      return { ended: affectedRows > 0 }
    },

    // Lets the gateway tell a resent token from one whose first attempt stopped between its
    // replay claim and this revocation: the rows `revoke` writes to `logouts` for this target.
    async recorded(target) {
      const { app, iss, sub, sid, issuedAt } = target
      const { rows } = await db.query(
        `select
           ($4::text is null or exists (select 1 from ${s}.logouts where ${live} and app = $2 and iss = $3
              and kind = 'sid' and value = $4)) and
           ($5::text is null or exists (select 1 from ${s}.logouts where ${live} and app = $2 and iss = $3
              and kind = 'sub' and value = $5 and issued_at >= $6)) as recorded`,
        [now(), app, iss, sid ?? null, isSubjectWide(target) ? (sub ?? null) : null, issuedAt],
      )
      return rows[0].recorded
    },

    async revoke(target) {
      const { app, iss, sub, sid, issuedAt } = target
      const t = now()
      return db.transaction(async (tx) => {
        let revoked = 0
        const end = async (kind, value) => {
          const column = kind === 'sid' ? 'sid' : 'sub'
          const { affectedRows } = await tx.query(
            `update ${s}.sessions set revoked_at = $1 where ${live} and app = $2 and iss = $3 and ${column} = $4 and revoked_at is null`,
            [t, app, iss, value],
          )
          revoked += affectedRows
          await tx.query(
            `insert into ${s}.logouts values ($2, $3, $4, $5, $6, $1, $7)
             on conflict (app, iss, kind, value) do update set revoked_at = $1, expires_at = $7,
               issued_at = greatest(${s}.logouts.issued_at, excluded.issued_at)`,
            [t, app, iss, kind, value, issuedAt, t + 30 * DAY],
          )
        }
        const subs = new Set(isSubjectWide(target) && sub !== undefined ? [sub] : [])
        if (sid !== undefined && isSubjectWide(target)) {
          const { rows } = await tx.query(
            `select distinct sub from ${s}.sessions where app = $1 and iss = $2 and sid = $3`,
            [app, iss, sid],
          )
          for (const row of rows) subs.add(row.sub)
        }
        if (sid !== undefined) await end('sid', sid)
        for (const value of subs) await end('sub', value)
        return { revoked }
      })
    },
  }
}
