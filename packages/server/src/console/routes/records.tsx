/**
 * The routes of what the gateway records: sessions and their revocation, the audit log, relay
 * deliveries and their retry, the Shared Signals streams, and the token debugger.
 * @module
 */
import { attempt } from '../api.js'
import { checkToken } from '../debugger.js'
import { defined, optional, queryValues, utcSeconds } from '../forms.js'
import { page, seeOther } from '../http.js'
import { AuditPage } from '../pages/audit.js'
import { DebuggerPage } from '../pages/debugger.js'
import { RelaysPage } from '../pages/relays.js'
import { SessionsPage } from '../pages/sessions.js'
import { type StreamRow, StreamsPage } from '../pages/streams.js'
import type { FormState } from '../pages/ui.js'
import { appNames, type ConsoleRequest, chosenApp, type Handler, notice, type RouteDependencies } from './shared.js'

/** A user's sessions in one application, once both are chosen. */
export const sessionsPage: Handler = async ({ api, ctx, url }) => {
  const values = queryValues(url)
  const apps = await appNames({ api, ctx })
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
    result.ok ? 200 : result.failure.status,
  )
}

/** Revokes every session of a user (`sessions.revoke`, relays included). */
export const revokeSessions: Handler = async ({ api, ctx, form }) => {
  const app = form.app ?? ''
  const sub = optional(form.sub)
  const result = await attempt(() => api.sessions.revoke({ app, sub }))
  if (result.ok) {
    return seeOther(
      `/admin/sessions?${new URLSearchParams({ app, sub: sub ?? '', notice: 'revoked', count: String(result.value.revoked) })}`,
    )
  }
  const apps = await appNames({ api, ctx })
  return page(
    <SessionsPage
      ctx={ctx}
      apps={apps}
      query={{ values: { app, sub: sub ?? '' } }}
      revoke={{ failure: result.failure }}
    />,
    result.failure.status,
  )
}

/** The audit log, filtered as the query says, 50 records a page. */
export const auditPage: Handler = async ({ api, ctx, url }) => {
  const values = queryValues(url)
  const limit = 50
  const input = defined({
    app: chosenApp(ctx, values.app),
    source: optional(values.source),
    outcome: optional(values.outcome),
    since: utcSeconds(values.since),
    until: utcSeconds(values.until),
    before: optional(values.before),
    limit,
  })
  const [apps, result] = await Promise.all([
    appNames({ api, ctx }),
    attempt(() => api.audit.list(input as { limit: number })),
  ])
  if (!result.ok)
    return page(<AuditPage ctx={ctx} apps={apps} query={{ values, failure: result.failure }} />, result.failure.status)
  const last = result.value.at(-1)
  const next =
    result.value.length === limit && last
      ? `/admin/audit?${new URLSearchParams({ ...values, before: last.id })}`
      : undefined
  return page(<AuditPage ctx={ctx} apps={apps} query={{ values }} records={result.value} next={next} />)
}

/** Relay deliveries, filtered by application and state, newest first. */
export const relaysPage: Handler = async ({ api, ctx, url }) => {
  const values = queryValues(url)
  const input = defined({ app: chosenApp(ctx, values.app), state: optional(values.state), limit: 100 })
  const [apps, result] = await Promise.all([
    appNames({ api, ctx }),
    attempt(() => api.relays.list(input as { limit: number })),
  ])
  const query = { values, ...(result.ok ? {} : { failure: result.failure }) }
  return page(
    <RelaysPage ctx={ctx} apps={apps} query={query} deliveries={result.ok ? result.value : []} notice={notice(url)} />,
    result.ok ? 200 : result.failure.status,
  )
}

/** Retries one dead delivery, or every dead delivery of an application. */
export const retryRelays: Handler = async ({ api, ctx, form }) => {
  const input = form.id ? { id: form.id } : { app: form.app ?? '', state: 'dead' as const }
  const result = await attempt(() => api.relays.retry(input))
  if (!result.ok) {
    const apps = await appNames({ api, ctx })
    const deliveries = await api.relays.list(defined({ app: ctx.owner, limit: 100 }) as { limit: number })
    return page(
      <RelaysPage ctx={ctx} apps={apps} query={{}} deliveries={deliveries} retry={{ failure: result.failure }} />,
      result.failure.status,
    )
  }
  return seeOther(`/admin/relays?notice=retried&count=${result.value.retried}`)
}

/** The Shared Signals streams, their state, and the last event each received (from the audit log). */
async function streamsView(req: ConsoleRequest, deps: RouteDependencies, verify?: FormState, status = 200) {
  const { api, ctx, url } = req
  const [streams, events] = await Promise.all([api.streams.list(), api.audit.list({ source: 'ssf', limit: 500 })])
  const rows: StreamRow[] = streams.map((stream) => {
    const last = events.find((e) => e.stream === stream.name)
    return {
      stream,
      ...(last && { lastEvent: { at: last.at, outcome: last.outcome, event: last.event, code: last.code } }),
    }
  })
  return page(
    <StreamsPage ctx={ctx} streams={rows} publicUrl={deps.publicUrl} verify={verify} notice={notice(url)} />,
    status,
  )
}

/** The streams page. */
export const streamsPage: Handler = (req, deps) => streamsView(req, deps)

/**
 * Asks a stream's transmitter for a verification event (`streams.verify`); the page then shows it
 * asked, and verified once the event arrived. A refusal is shown with the API's message; the
 * access token is never written back into the page.
 */
export const verifyStream: Handler = async (req, deps) => {
  const name = req.form.name ?? ''
  const result = await attempt(() =>
    req.api.streams.verify(defined({ name, accessToken: optional(req.form.accessToken) }) as { name: string }),
  )
  if (result.ok) return seeOther(`/admin/streams?${new URLSearchParams({ notice: 'verify', name })}`)
  return streamsView(req, deps, { values: { name }, failure: result.failure }, result.failure.status)
}

/** What the debugger checks tokens for: every application and stream; an owner's application alone. */
async function debuggerTargets({ api, ctx }: Pick<ConsoleRequest, 'api' | 'ctx'>): Promise<[string, string][]> {
  if (ctx.owner) return [[`app:${ctx.owner}`, `application ${ctx.owner} (logout token)`]]
  const [apps, streams] = await Promise.all([api.apps.list(), api.streams.list()])
  return [
    ...apps.map((a) => [`app:${a.name}`, `application ${a.name} (logout token)`] as [string, string]),
    ...streams.map((s) => [`stream:${s.name}`, `stream ${s.name} (SET)`] as [string, string]),
  ]
}

/** The token debugger's form. */
export const debuggerPage: Handler = async (req) =>
  page(<DebuggerPage ctx={req.ctx} targets={await debuggerTargets(req)} />)

/** Checks a pasted token for an application or stream: its header, claims and the first rule it fails. */
export const debugToken: Handler = async (req, deps) => {
  const { ctx, form } = req
  const targets = await debuggerTargets(req)
  // The checker reads the store itself, not through the API: only a target offered to this caller is checked.
  if (!targets.some(([value]) => value === form.target)) {
    const failure = {
      message: 'target: choose one of the applications offered',
      status: 400,
      fields: { target: 'choose one of those offered' },
    }
    return page(<DebuggerPage ctx={ctx} targets={targets} state={{ values: form, failure }} />, failure.status)
  }
  const report = await checkToken(deps.tokens, form.token ?? '', form.target ?? '')
  return page(<DebuggerPage ctx={ctx} targets={targets} state={{ values: form }} report={report} />)
}
