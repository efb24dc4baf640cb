/** The applications: the list with their health, and registering a new one (OIDC or HMAC). */
import type { AppHealth, PublicApp } from '@backchannel/admin'
import { Csrf, FailureSummary, Field, type FormState, Layout, Notice, type PageContext, time } from './ui.js'

/** Every application with its health. */
export function AppsPage(props: { ctx: PageContext; apps: { app: PublicApp; health: AppHealth }[]; notice?: string }) {
  return (
    <Layout title="Applications" ctx={props.ctx}>
      <Notice text={props.notice} />
      <p>
        <a class="button" href="/admin/register">
          Register an application
        </a>
      </p>
      {props.apps.length === 0 ? (
        <p>No application is registered yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>Applications and their health</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Last logout</th>
                <th scope="col">Last refusal</th>
                <th scope="col">Keys last fetched</th>
                <th scope="col">Relay backlog</th>
              </tr>
            </thead>
            <tbody>
              {props.apps.map(({ app, health }) => (
                <tr>
                  <th scope="row">
                    <a href={`/admin/apps/${app.name}`}>{app.name}</a>
                  </th>
                  <td>{app.kind === 'oidc' ? 'OIDC' : 'HMAC'}</td>
                  <td>{time(health.lastLogout?.at)}</td>
                  <td>
                    {health.lastRefusal
                      ? `${time(health.lastRefusal.at)} · ${health.lastRefusal.code ?? 'refused'}`
                      : '—'}
                  </td>
                  <td>{app.kind === 'oidc' ? time(health.keysFetchedAt) : 'n/a (secret)'}</td>
                  <td>{backlog(health)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  )
}

/** "3 pending, 1 dead", with "+" when a count reached its cap. */
export function backlog(health: AppHealth): string {
  const plus = health.relayBacklog.capped ? '+' : ''
  return `${health.relayBacklog.pending}${plus} pending, ${health.relayBacklog.dead}${plus} dead`
}

/** The two registration forms; `state` is the one sent, shown again with the API's answer. */
export function NewAppPage(props: { ctx: PageContext; kind?: 'oidc' | 'hmac'; state?: FormState }) {
  const oidc = props.kind === 'oidc' ? props.state : undefined
  const hmac = props.kind === 'hmac' ? props.state : undefined
  return (
    <Layout title="Register an application" ctx={props.ctx}>
      <section class="card" aria-labelledby="oidc-title">
        <h2 id="oidc-title">OpenID Connect application</h2>
        <p>The gateway reads the provider's discovery document now and verifies its tokens with its keys.</p>
        <FailureSummary state={oidc} />
        <form method="post" action="/admin/apps">
          <Csrf ctx={props.ctx} />
          <input type="hidden" name="kind" value="oidc" />
          <Field form="oidc" name="name" label="Name" state={oidc} required hint="The :app of the logout URL." />
          <Field form="oidc" name="issuer" label="Issuer URL" state={oidc} type="url" required />
          <Field
            form="oidc"
            name="clientId"
            label="Client id"
            state={oidc}
            required
            hint="What the provider puts in aud."
          />
          <Field form="oidc" name="algorithms" label="Algorithms" state={oidc} hint="Comma-separated; default RS256." />
          <button type="submit">Register</button>
        </form>
      </section>
      <section class="card" aria-labelledby="hmac-title">
        <h2 id="hmac-title">HMAC application</h2>
        <p>For a backend that signs its own logout tokens with a shared secret; the secret is shown once.</p>
        <FailureSummary state={hmac} />
        <form method="post" action="/admin/apps">
          <Csrf ctx={props.ctx} />
          <input type="hidden" name="kind" value="hmac" />
          <Field form="hmac" name="name" label="Name" state={hmac} required hint="The :app of the logout URL." />
          <Field
            form="hmac"
            name="exampleSub"
            label="User id for the example logout"
            state={hmac}
            value="test-user"
            hint="The page shows a curl line that logs this user out, signed with the new secret."
          />
          <button type="submit">Register</button>
        </form>
      </section>
    </Layout>
  )
}
