/**
 * The console's pages and actions, each a handler of a signed-in request. Reads call the API's
 * queries; actions call its mutations and then redirect (post, redirect, get), except those that
 * made a secret: that page is the POST's own answer, so the secret is never in a URL.
 * @module
 */
import type { PublicApp } from '@backchannel/admin'
import { mintLogoutToken } from '@backchannel/core/mint'
import { type AdminCaller, attempt } from './api.js'
import { checkToken, type TokenCheck } from './debugger.js'
import {
  boolean,
  defined,
  type FormValues,
  numeric,
  optional,
  queryValues,
  relayLines,
  shellWord,
  utcSeconds,
} from './forms.js'
import { page, seeOther } from './http.js'
import { AppPage, CredentialsPage, settingsValues } from './pages/app.js'
import { AppsPage, NewAppPage } from './pages/apps.js'
import { AuditPage } from './pages/audit.js'
import { DebuggerPage } from './pages/debugger.js'
import { RelaysPage } from './pages/relays.js'
import { SessionsPage } from './pages/sessions.js'
import { type StreamRow, StreamsPage } from './pages/streams.js'
import type { PageContext } from './pages/ui.js'

/** One signed-in request, as a handler sees it. */
export interface ConsoleRequest {
  url: URL
  /** The POST's form fields (empty for a GET). */
  form: FormValues
  ctx: PageContext
  api: AdminCaller
  /** The `:name` of `/admin/apps/:name/…`. */
  name: string
}

/** What the handlers need beyond the request. */
export interface RouteDependencies {
  /** The gateway's public URL, without a trailing slash. */
  publicUrl: string
  tokens: TokenCheck
}

type Handler = (req: ConsoleRequest, deps: RouteDependencies) => Promise<Response>

/** Notices after a redirect, by the `notice` parameter: fixed texts, so a link cannot put words in the console's mouth. */
const NOTICES: Record<string, (count: string) => string> = {
  saved: () => 'Saved.',
  unchanged: () => 'Nothing was changed.',
  revoked: (n) => `${n} session(s) revoked.`,
  retried: (n) => `${n} delivery(ies) queued again.`,
}
const notice = (url: URL) => NOTICES[url.searchParams.get('notice') ?? '']?.(url.searchParams.get('count') ?? '0')

const logoutUrl = (deps: RouteDependencies, app: string) => `${deps.publicUrl}/auth/logout/${app}`
const appNames = async (api: AdminCaller) => (await api.apps.list()).map((a) => a.name)

/** The example logout of an HMAC app's new secret: a curl line with a token signed now, and the CLI line. */
async function example(deps: RouteDependencies, app: string, secret: string, sub: string) {
  const token = await mintLogoutToken({ secret, sub })
  return {
    sub,
    curl: `curl -sS -d logout_token=${token} ${logoutUrl(deps, app)}`,
    cli: `backchannel token --app ${app} --secret ${shellWord(secret)} --sub ${shellWord(sub)} --send ${deps.publicUrl}`,
  }
}

const appsPage: Handler = async ({ api, ctx, url }) => {
  const apps = await api.apps.list()
  const rows = await Promise.all(apps.map(async (app) => ({ app, health: await api.apps.health({ name: app.name }) })))
  return page(<AppsPage ctx={ctx} apps={rows} notice={notice(url)} />)
}

const createApp: Handler = async ({ api, ctx, form }, deps) => {
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
    return page(<NewAppPage ctx={ctx} kind={kind} state={{ values: form, failure: result.failure }} />, 400)
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
        secret === undefined
          ? undefined
          : await example(deps, app.name, secret, optional(form.exampleSub) ?? 'test-user')
      }
    />,
  )
}

async function appPage(
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

const updateApp: Handler = async (req, deps) => {
  const input = changes(await req.api.apps.get({ name: req.name }), req.form)
  if (Object.keys(input).length === 0) return seeOther(`/admin/apps/${req.name}?notice=unchanged`)
  const result = await attempt(() => req.api.apps.update({ name: req.name, ...input } as { name: string }))
  if (!result.ok) return appPage(req, deps, { settings: { values: req.form, failure: result.failure } }, 400)
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

const rotateSecret: Handler = async (req, deps) => {
  const graceSeconds = numeric(req.form.graceSeconds)
  const result = await attempt(() =>
    req.api.apps.rotateSecret(defined({ name: req.name, graceSeconds }) as { name: string }),
  )
  if (!result.ok) return appPage(req, deps, { rotation: { values: req.form, failure: result.failure } }, 400)
  const { secret } = result.value
  return page(
    <CredentialsPage
      ctx={req.ctx}
      title={`New secret of ${req.name}`}
      app={req.name}
      logoutUrl={logoutUrl(deps, req.name)}
      secret={secret}
      example={await example(deps, req.name, secret, 'test-user')}
    />,
  )
}

const rotateApiKey: Handler = async (req, deps) => {
  const result = await attempt(() => req.api.apps.rotateApiKey({ name: req.name }))
  if (!result.ok) return appPage(req, deps, { rotation: { failure: result.failure } }, 400)
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

const sessionsPage: Handler = async ({ api, ctx, url }) => {
  const values = queryValues(url)
  const apps = await appNames(api)
  if (!values.app || !values.sub)
    return page(<SessionsPage ctx={ctx} apps={apps} query={{ values }} notice={notice(url)} />)
  const result = await attempt(() => api.sessions.list({ app: values.app ?? '', sub: values.sub ?? '' }))
  const query = { values, ...(result.ok ? {} : { failure: result.failure }) }
  return page(
    <SessionsPage
      ctx={ctx}
      apps={apps}
      query={query}
      sessions={result.ok ? result.value : undefined}
      notice={notice(url)}
    />,
    result.ok ? 200 : 400,
  )
}

const revokeSessions: Handler = async ({ api, ctx, form }) => {
  const app = form.app ?? ''
  const sub = optional(form.sub)
  const result = await attempt(() => api.sessions.revoke({ app, sub }))
  if (result.ok) {
    return seeOther(
      `/admin/sessions?${new URLSearchParams({ app, sub: sub ?? '', notice: 'revoked', count: String(result.value.revoked) })}`,
    )
  }
  const apps = await appNames(api)
  return page(
    <SessionsPage
      ctx={ctx}
      apps={apps}
      query={{ values: { app, sub: sub ?? '' } }}
      revoke={{ failure: result.failure }}
    />,
    400,
  )
}

const auditPage: Handler = async ({ api, ctx, url }) => {
  const values = queryValues(url)
  const limit = 50
  const input = defined({
    app: optional(values.app),
    source: optional(values.source),
    outcome: optional(values.outcome),
    since: utcSeconds(values.since),
    until: utcSeconds(values.until),
    before: optional(values.before),
    limit,
  })
  const [apps, result] = await Promise.all([appNames(api), attempt(() => api.audit.list(input as { limit: number }))])
  if (!result.ok) return page(<AuditPage ctx={ctx} apps={apps} query={{ values, failure: result.failure }} />, 400)
  const last = result.value.at(-1)
  const next =
    result.value.length === limit && last
      ? `/admin/audit?${new URLSearchParams({ ...values, before: last.id })}`
      : undefined
  return page(<AuditPage ctx={ctx} apps={apps} query={{ values }} records={result.value} next={next} />)
}

const relaysPage: Handler = async ({ api, ctx, url }) => {
  const values = queryValues(url)
  const input = defined({ app: optional(values.app), state: optional(values.state), limit: 100 })
  const [apps, result] = await Promise.all([appNames(api), attempt(() => api.relays.list(input as { limit: number }))])
  const query = { values, ...(result.ok ? {} : { failure: result.failure }) }
  return page(
    <RelaysPage ctx={ctx} apps={apps} query={query} deliveries={result.ok ? result.value : []} notice={notice(url)} />,
    result.ok ? 200 : 400,
  )
}

const retryRelays: Handler = async ({ api, ctx, form }) => {
  const input = form.id ? { id: form.id } : { app: form.app ?? '', state: 'dead' as const }
  const result = await attempt(() => api.relays.retry(input))
  if (!result.ok) {
    const apps = await appNames(api)
    const deliveries = await api.relays.list({ limit: 100 })
    return page(
      <RelaysPage ctx={ctx} apps={apps} query={{}} deliveries={deliveries} retry={{ failure: result.failure }} />,
      400,
    )
  }
  return seeOther(`/admin/relays?notice=retried&count=${result.value.retried}`)
}

const streamsPage: Handler = async ({ api, ctx }, deps) => {
  const [streams, events] = await Promise.all([api.streams.list(), api.audit.list({ source: 'ssf', limit: 500 })])
  const rows: StreamRow[] = streams.map((stream) => {
    const last = events.find((e) => e.stream === stream.name)
    return {
      stream,
      ...(last && { lastEvent: { at: last.at, outcome: last.outcome, event: last.event, code: last.code } }),
    }
  })
  return page(<StreamsPage ctx={ctx} streams={rows} publicUrl={deps.publicUrl} />)
}

async function debuggerTargets(api: AdminCaller): Promise<[string, string][]> {
  const [apps, streams] = await Promise.all([api.apps.list(), api.streams.list()])
  return [
    ...apps.map((a) => [`app:${a.name}`, `application ${a.name} (logout token)`] as [string, string]),
    ...streams.map((s) => [`stream:${s.name}`, `stream ${s.name} (SET)`] as [string, string]),
  ]
}

const debuggerPage: Handler = async ({ api, ctx }) =>
  page(<DebuggerPage ctx={ctx} targets={await debuggerTargets(api)} />)

const debugToken: Handler = async ({ api, ctx, form }, deps) => {
  const report = await checkToken(deps.tokens, form.token ?? '', form.target ?? '')
  return page(<DebuggerPage ctx={ctx} targets={await debuggerTargets(api)} state={{ values: form }} report={report} />)
}

/** The signed-in routes: `METHOD path`, `:name` standing for an application's name. */
export const ROUTES: Readonly<Record<string, Handler>> = {
  'GET /admin/apps': appsPage,
  'GET /admin/register': async ({ ctx }) => page(<NewAppPage ctx={ctx} />),
  'POST /admin/apps': createApp,
  'GET /admin/apps/:name': (req, deps) => appPage(req, deps),
  'POST /admin/apps/:name/update': updateApp,
  'POST /admin/apps/:name/rotate-secret': rotateSecret,
  'POST /admin/apps/:name/rotate-api-key': rotateApiKey,
  'GET /admin/sessions': sessionsPage,
  'POST /admin/sessions/revoke': revokeSessions,
  'GET /admin/audit': auditPage,
  'GET /admin/relays': relaysPage,
  'POST /admin/relays/retry': retryRelays,
  'GET /admin/streams': streamsPage,
  'GET /admin/debugger': debuggerPage,
  'POST /admin/debugger': debugToken,
}
