/**
 * One application: its logout URL, settings and health; editing its policy and relays (the
 * operator; its owner reads them); rotating its secret or API key. And the page that shows new
 * credentials, once.
 */
import type { AppHealth, PublicApp } from '@backchannel/admin'
import { backlog } from './apps.js'
import { Copyable, Csrf, FailureSummary, Field, type FormState, Layout, Notice, type PageContext, time } from './ui.js'

/** The form values of an application's current policy and relays (one relay a line: `mode url [clientId]`). */
export function settingsValues(app: PublicApp): Record<string, string> {
  const p = app.policy
  const text = (v: unknown) => (v === undefined ? '' : String(v))
  return {
    'policy.maxTokenAge': text(p.maxTokenAge),
    'policy.clockTolerance': text(p.clockTolerance),
    'policy.allowMissingExp': text(p.allowMissingExp),
    'policy.logoutScope': text(p.logoutScope),
    'policy.audience': text(p.audience),
    'policy.issuer': text(p.issuer),
    'policy.relayWaitMs': text(p.relayWaitMs),
    relays: (app.relays ?? []).map((r) => [r.mode, r.url, r.clientId].filter(Boolean).join(' ')).join('\n'),
  }
}

/** The page of one application. `settings` is the edit form as last sent, when the API refused it. */
export function AppPage(props: {
  ctx: PageContext
  app: PublicApp
  health: AppHealth
  logoutUrl: string
  settings?: FormState
  rotation?: FormState
  notice?: string
}) {
  const { app, health } = props
  const settings: FormState = props.settings ?? { values: settingsValues(app) }
  return (
    <Layout title={app.name} ctx={props.ctx}>
      <Notice text={props.notice} />
      <Copyable
        id="logout-url"
        label="Back-channel logout URL (paste it into the identity provider)"
        value={props.logoutUrl}
      />
      <SettingUp app={app} />
      <p class="links">
        <a href={`/admin/sessions?app=${app.name}`}>Sessions</a>
        <a href={`/admin/audit?app=${app.name}`}>Audit log</a>
        <a href={`/admin/relays?app=${app.name}`}>Relay deliveries</a>
      </p>
      <section class="card" aria-labelledby="facts">
        <h2 id="facts">Settings and health</h2>
        <dl>
          <dt>Kind</dt>
          <dd>{app.kind === 'oidc' ? 'OpenID Connect' : 'HMAC'}</dd>
          {app.issuer && (
            <>
              <dt>Issuer</dt>
              <dd class="mono">{app.issuer}</dd>
              <dt>Client id</dt>
              <dd class="mono">{app.clientId}</dd>
              <dt>Key set</dt>
              <dd class="mono">{app.jwksUri}</dd>
              <dt>Keys last fetched (this instance)</dt>
              <dd>{time(health.keysFetchedAt)}</dd>
            </>
          )}
          <dt>Algorithms</dt>
          <dd>{app.algorithms.join(', ')}</dd>
          {app.previousSecretValidUntil !== undefined && (
            <>
              <dt>Previous secret verifies until</dt>
              <dd>{time(app.previousSecretValidUntil)}</dd>
            </>
          )}
          <dt>Last logout</dt>
          <dd>
            {health.lastLogout
              ? `${time(health.lastLogout.at)} (${health.lastLogout.source}, ${health.lastLogout.revoked ?? 0} sessions ended)`
              : '—'}
          </dd>
          <dt>Last refusal</dt>
          <dd>
            {health.lastRefusal ? `${time(health.lastRefusal.at)}: ${health.lastRefusal.code ?? 'refused'}` : '—'}
          </dd>
          <dt>Relay backlog</dt>
          <dd>{backlog(health)}</dd>
        </dl>
      </section>
      {props.ctx.owner ? (
        <PolicyAndRelays app={app} />
      ) : (
        <section class="card" aria-labelledby="edit">
          <h2 id="edit">Policy and relays</h2>
          <FailureSummary state={props.settings} />
          <form method="post" action={`/admin/apps/${app.name}/update`}>
            <Csrf ctx={props.ctx} />
            <Field
              name="policy.maxTokenAge"
              label="Maximum token age (seconds)"
              state={settings}
              inputMode="numeric"
              hint="Empty: the default, 600."
            />
            <Field
              name="policy.clockTolerance"
              label="Clock tolerance (seconds)"
              state={settings}
              inputMode="numeric"
              hint="Empty: the default, 60."
            />
            <Field
              as="select"
              name="policy.allowMissingExp"
              label="Tokens without exp"
              state={settings}
              options={[
                ['', 'unchanged'],
                ['false', 'refused'],
                ['true', 'accepted'],
              ]}
            />
            <Field
              as="select"
              name="policy.logoutScope"
              label="A logout ends"
              state={settings}
              options={[
                ['', 'unchanged'],
                ['session', 'the session (sid)'],
                ['user', 'every session of the user'],
              ]}
            />
            {app.kind === 'hmac' && (
              <>
                <Field name="policy.audience" label="Expected aud" state={settings} />
                <Field name="policy.issuer" label="Expected iss" state={settings} />
              </>
            )}
            <Field
              name="policy.relayWaitMs"
              label="Wait for relays (milliseconds)"
              state={settings}
              inputMode="numeric"
            />
            <Field
              as="textarea"
              name="relays"
              label="Relays"
              state={settings}
              rows={4}
              hint="One a line: mode URL [clientId], mode forward, sign or hmac. Empty removes every relay."
            />
            <button type="submit">Save</button>
          </form>
        </section>
      )}
      <section class="card" aria-labelledby="rotate">
        <h2 id="rotate">Credentials</h2>
        <FailureSummary state={props.rotation} />
        {app.kind === 'hmac' && (
          <form method="post" action={`/admin/apps/${app.name}/rotate-secret`}>
            <Csrf ctx={props.ctx} />
            <Field
              name="graceSeconds"
              label="Grace period (seconds)"
              state={props.rotation}
              inputMode="numeric"
              hint="How long the current secret still verifies; default 3600."
            />
            <button type="submit" data-confirm="Rotate the secret? The new one is shown once.">
              Rotate the secret
            </button>
          </form>
        )}
        <form method="post" action={`/admin/apps/${app.name}/rotate-api-key`}>
          <Csrf ctx={props.ctx} />
          <button type="submit" data-confirm="Rotate the API key? The current one stops working now.">
            Rotate the API key
          </button>
        </form>
      </section>
    </Layout>
  )
}

/** How to set the logout URL up at the identity provider, or (HMAC) how the application's backend uses it. */
function SettingUp({ app }: { app: PublicApp }) {
  return app.kind === 'oidc' ? (
    <p class="hint">
      At the identity provider, open the client <span class="mono">{app.clientId}</span> and set its back-channel logout
      URL to this one, with back-channel logout session required if it offers it (Keycloak: Client settings → Logout
      settings; Auth0: Application → Settings → OpenID Connect Back-Channel Logout; Okta: the app's logout settings). It
      then posts a signed logout token here whenever a user signs out.
    </p>
  ) : (
    <p class="hint">
      Your backend posts <span class="mono">logout_token=JWT</span> (form-encoded) to this URL, the JWT signed with the
      application's HMAC secret (HS256): the secret's rotation below shows a ready curl line and the CLI line.
    </p>
  )
}

/** The policy and relays as an owner reads them: what its tokens must satisfy and where logouts go are the operator's to change. */
function PolicyAndRelays({ app }: { app: PublicApp }) {
  const values = settingsValues(app)
  const rows: [string, string][] = [
    ['Maximum token age (seconds)', values['policy.maxTokenAge'] || '600 (default)'],
    ['Clock tolerance (seconds)', values['policy.clockTolerance'] || '60 (default)'],
    ['Tokens without exp', app.policy.allowMissingExp ? 'accepted' : 'refused'],
    ['A logout ends', app.policy.logoutScope === 'user' ? 'every session of the user' : 'the session (sid)'],
    ...(app.kind === 'hmac'
      ? ([
          ['Expected aud', values['policy.audience'] || 'any'],
          ['Expected iss', values['policy.issuer'] || 'any'],
        ] as [string, string][])
      : []),
    ['Wait for relays (milliseconds)', values['policy.relayWaitMs'] || '0 (default)'],
  ]
  return (
    <section class="card" aria-labelledby="policy">
      <h2 id="policy">Policy and relays</h2>
      <p class="hint">Read only: the operator changes them.</p>
      <dl>
        {rows.map(([term, value]) => (
          <>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </>
        ))}
        <dt>Relays</dt>
        <dd>
          {(app.relays ?? []).length === 0 ? (
            'none'
          ) : (
            <ul class="mono">
              {(app.relays ?? []).map((r) => (
                <li>{`${r.mode} ${r.url}`}</li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
    </section>
  )
}

/** New credentials, shown on this one answer and never again (nothing is kept to show them later). */
export function CredentialsPage(props: {
  ctx: PageContext
  title: string
  app: string
  logoutUrl: string
  apiKey?: string
  secret?: string
  example?: { curl: string; cli: string; sub: string }
  /** The secrets of new `hmac` relays, by URL. */
  relaySecrets?: Record<string, string>
}) {
  return (
    <Layout title={props.title} ctx={props.ctx}>
      <p class="notice" role="status">
        Copy what you need now: secrets are shown on this page only.
      </p>
      <Copyable id="logout-url" label="Back-channel logout URL" value={props.logoutUrl} />
      {props.secret && <Copyable id="secret" label="HMAC secret" value={props.secret} />}
      {props.apiKey && (
        <Copyable id="api-key" label="API key (the application's token for /trpc)" value={props.apiKey} />
      )}
      {props.apiKey && props.ctx.owner && (
        <p role="status">
          The key you signed in with no longer works: this session is over.{' '}
          <a href="/admin/sign-in">Sign in again with the new key</a>.
        </p>
      )}
      {Object.entries(props.relaySecrets ?? {}).map(([url, secret], i) => (
        <Copyable id={`relay-secret-${i}`} label={`Secret of the hmac relay ${url}`} value={secret} />
      ))}
      {props.example && (
        <section class="card" aria-labelledby="try">
          <h2 id="try">Log a user out</h2>
          <Copyable
            id="curl-line"
            label={`curl: logs out ${props.example.sub} with a token signed now (valid 2 minutes)`}
            value={props.example.curl}
          />
          <Copyable id="cli-line" label="CLI: mints a fresh token and sends it" value={props.example.cli} />
        </section>
      )}
      {!(props.apiKey && props.ctx.owner) && (
        <p>
          <a href={`/admin/apps/${props.app}`}>Back to {props.app}</a>
        </p>
      )}
    </Layout>
  )
}
