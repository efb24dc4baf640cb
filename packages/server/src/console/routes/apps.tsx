/**
 * The application routes: the list, registering one, its page, and the actions on it. Those that
 * make a secret answer the POST with the page that shows it, so the secret is never in a URL.
 * @module
 */
import type { PublicApp } from '@backchannel/admin'
import { mintLogoutToken } from '@backchannel/core/mint'
import { attempt } from '../api.js'
import { boolean, defined, type FormValues, numeric, optional, relayLines, shellWord } from '../forms.js'
import { page, seeOther } from '../http.js'
import { AppPage, CredentialsPage, settingsValues } from '../pages/app.js'
import { AppsPage, NewAppPage } from '../pages/apps.js'
import { type ConsoleRequest, type Handler, logoutUrl, notice, type RouteDependencies } from './shared.js'

/**
 * The example logout of an HMAC app's new secret: a curl line with a token signed now, and the CLI
 * line; both with the `iss` and `aud` its policy expects, if any.
 */
async function example(deps: RouteDependencies, app: PublicApp, secret: string, sub: string) {
  const { issuer: iss, audience: aud } = app.policy
  const token = await mintLogoutToken({ secret, sub, ...defined({ iss, aud }) })
  const flags = [
    ['--app', app.name],
    ['--secret', secret],
    ['--sub', sub],
    ['--iss', iss],
    ['--aud', aud],
    ['--send', deps.publicUrl],
  ].flatMap(([flag, value]) => (value === undefined ? [] : [`${flag} ${shellWord(value)}`]))
  return {
    sub,
    curl: `curl -sS -d logout_token=${token} ${logoutUrl(deps, app.name)}`,
    cli: `backchannel token ${flags.join(' ')}`,
  }
}

/** Every application with its health. */
export const appsPage: Handler = async ({ api, ctx, url }) => {
  const apps = await api.apps.list()
  const rows = await Promise.all(apps.map(async (app) => ({ app, health: await api.apps.health({ name: app.name }) })))
  return page(<AppsPage ctx={ctx} apps={rows} notice={notice(url)} />)
}

/** Registers an application; the answer shows its logout URL, API key and (HMAC) secret, once. */
export const createApp: Handler = async ({ api, ctx, form }, deps) => {
  const kind = form.kind === 'oidc' ? 'oidc' : 'hmac'
  const input =
    kind === 'oidc'
      ? defined({
          name: form.name ?? '',
          issuer: form.issuer ?? '',
          clientId: optional(form.clientId),
          algorithms: optional(form.algorithms)?.split(/\s*,\s*/),
        })
      : { name: form.name ?? '' }
  const result = await attempt(() => api.apps.create(input as { name: string }))
  if (!result.ok)
    return page(
      <NewAppPage ctx={ctx} kind={kind} state={{ values: form, failure: result.failure }} />,
      result.failure.status,
    )
  const { app, apiKey, secret } = result.value
  return page(
    <CredentialsPage
      ctx={ctx}
      title={`${app.name} is registered`}
      app={app.name}
      logoutUrl={logoutUrl(deps, app.name)}
      apiKey={apiKey}
      secret={secret}
      example={
        secret === undefined ? undefined : await example(deps, app, secret, optional(form.exampleSub) ?? 'test-user')
      }
    />,
  )
}

/** The page of one application, with `extra` (a refused form, shown again) and `status`. */
export async function appPage(
  req: ConsoleRequest,
  deps: RouteDependencies,
  extra: Partial<Parameters<typeof AppPage>[0]> = {},
  status = 200,
) {
  const app = await req.api.apps.get({ name: req.name })
  const health = await req.api.apps.health({ name: req.name })
  return page(
    <AppPage
      ctx={req.ctx}
      app={app}
      health={health}
      logoutUrl={logoutUrl(deps, app.name)}
      notice={notice(req.url)}
      {...extra}
    />,
    status,
  )
}

/** The update input of the fields that differ from the application's current settings. */
function changes(app: PublicApp, form: FormValues) {
  const current = settingsValues(app)
  const changed = (field: string) => (form[field] ?? '').trim() !== (current[field] ?? '').trim()
  const policy = defined({
    maxTokenAge: changed('policy.maxTokenAge') ? numeric(form['policy.maxTokenAge']) : undefined,
    clockTolerance: changed('policy.clockTolerance') ? numeric(form['policy.clockTolerance']) : undefined,
    allowMissingExp: changed('policy.allowMissingExp') ? boolean(form['policy.allowMissingExp']) : undefined,
    logoutScope: changed('policy.logoutScope') ? optional(form['policy.logoutScope']) : undefined,
    audience: changed('policy.audience') ? optional(form['policy.audience']) : undefined,
    issuer: changed('policy.issuer') ? optional(form['policy.issuer']) : undefined,
    relayWaitMs: changed('policy.relayWaitMs') ? numeric(form['policy.relayWaitMs']) : undefined,
  })
  return defined({
    policy: Object.keys(policy).length > 0 ? policy : undefined,
    relays: changed('relays') ? relayLines(form.relays ?? '') : undefined,
  })
}

/** Saves the policy and relays fields that changed; new hmac relay secrets are shown once. */
export const updateApp: Handler = async (req, deps) => {
  const input = changes(await req.api.apps.get({ name: req.name }), req.form)
  if (Object.keys(input).length === 0) return seeOther(`/admin/apps/${req.name}?notice=unchanged`)
  const result = await attempt(() => req.api.apps.update({ name: req.name, ...input } as { name: string }))
  if (!result.ok)
    return appPage(req, deps, { settings: { values: req.form, failure: result.failure } }, result.failure.status)
  const issued = result.value.relaySecrets
  if (!issued) return seeOther(`/admin/apps/${req.name}?notice=saved`)
  return page(
    <CredentialsPage
      ctx={req.ctx}
      title={`New relay secrets of ${req.name}`}
      app={req.name}
      logoutUrl={logoutUrl(deps, req.name)}
      relaySecrets={issued}
    />,
  )
}

/** Rotates an HMAC application's secret; the answer shows the new one, once. */
export const rotateSecret: Handler = async (req, deps) => {
  const graceSeconds = numeric(req.form.graceSeconds)
  const result = await attempt(() =>
    req.api.apps.rotateSecret(defined({ name: req.name, graceSeconds }) as { name: string }),
  )
  if (!result.ok)
    return appPage(req, deps, { rotation: { values: req.form, failure: result.failure } }, result.failure.status)
  const { secret } = result.value
  return page(
    <CredentialsPage
      ctx={req.ctx}
      title={`New secret of ${req.name}`}
      app={req.name}
      logoutUrl={logoutUrl(deps, req.name)}
      secret={secret}
      example={await example(deps, await req.api.apps.get({ name: req.name }), secret, 'test-user')}
    />,
  )
}

/** Rotates an application's API key; the answer shows the new one, once. */
export const rotateApiKey: Handler = async (req, deps) => {
  const result = await attempt(() => req.api.apps.rotateApiKey({ name: req.name }))
  if (!result.ok) return appPage(req, deps, { rotation: { failure: result.failure } }, result.failure.status)
  return page(
    <CredentialsPage
      ctx={req.ctx}
      title={`New API key of ${req.name}`}
      app={req.name}
      logoutUrl={logoutUrl(deps, req.name)}
      apiKey={result.value.apiKey}
    />,
  )
}

/** The registration forms, empty. */
export const newAppPage: Handler = async ({ ctx }) => page(<NewAppPage ctx={ctx} />)
