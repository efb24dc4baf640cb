/** A user's sessions in one application, and revoking them. */
import {
  appOptions,
  Csrf,
  FailureSummary,
  Field,
  type FormState,
  Layout,
  Notice,
  type PageContext,
  time,
} from './ui.js'

/** A session as `sessions.list` returns it. */
export interface SessionRow {
  sessionId: string
  sub: string
  sid?: string
  authTime: number
  expiresAt?: number
  revokedAt?: number
}

/** The search form, the sessions found, and the revoke buttons. */
export function SessionsPage(props: {
  ctx: PageContext
  apps: string[]
  query: FormState
  sessions?: SessionRow[]
  revoke?: FormState
  notice?: string
}) {
  const app = props.query.values?.app ?? ''
  const sub = props.query.values?.sub ?? ''
  return (
    <Layout title="Sessions" ctx={props.ctx}>
      <Notice text={props.notice} />
      <FailureSummary state={props.query} />
      <FailureSummary state={props.revoke} />
      <form method="get" action="/admin/sessions" class="card filters">
        <Field
          as="select"
          name="app"
          label="Application"
          state={props.query}
          options={appOptions(props.ctx, props.apps)}
        />
        <Field name="sub" label="User (sub)" state={props.query} required />
        <button type="submit">Show sessions</button>
      </form>
      {props.sessions && (
        <section aria-labelledby="found">
          <h2 id="found">
            Sessions of {sub} in {app}
          </h2>
          {props.sessions.length === 0 ? (
            <p>No session.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Session</th>
                    <th scope="col">sid</th>
                    <th scope="col">Signed in</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {props.sessions.map((s) => (
                    <tr>
                      <td class="mono">{s.sessionId}</td>
                      <td class="mono">{s.sid ?? '—'}</td>
                      <td>{time(s.authTime)}</td>
                      <td>{s.revokedAt === undefined ? 'active' : `revoked ${time(s.revokedAt)}`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <form method="post" action="/admin/sessions/revoke">
            <Csrf ctx={props.ctx} />
            <input type="hidden" name="app" value={app} />
            <input type="hidden" name="sub" value={sub} />
            <button type="submit" class="danger" data-confirm={`End every session of ${sub} in ${app}?`}>
              Revoke every session of {sub}
            </button>
          </form>
        </section>
      )}
    </Layout>
  )
}
