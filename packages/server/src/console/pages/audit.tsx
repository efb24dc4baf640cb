/** The audit log, filtered by application, source, outcome and time. */
import { AUDIT_OUTCOMES, AUDIT_SOURCES } from '@backchannel/admin'
import type { AuditRecord } from '@backchannel/unstorage'
import { appOptions, FailureSummary, Field, type FormState, Layout, type PageContext, time } from './ui.js'

const options = (values: readonly string[]) => [['', 'any'] as const, ...values.map((v) => [v, v] as const)]

/** What a record says beyond its time, source and outcome. */
function detail(r: AuditRecord): string {
  return [
    r.action,
    r.actor && `by ${r.actor}`,
    r.code,
    r.stream && `stream ${r.stream}`,
    r.sid && `sid ${r.sid}`,
    r.revoked !== undefined && `${r.revoked} ended`,
    r.url,
    r.status !== undefined && `HTTP ${r.status}`,
    r.fields?.length && `fields ${r.fields.join(', ')}`,
  ]
    .filter(Boolean)
    .join(' · ')
}

/** The filter form and the records, newest first; `next` links the following page. */
export function AuditPage(props: {
  ctx: PageContext
  apps: string[]
  query: FormState
  records?: AuditRecord[]
  next?: string
}) {
  return (
    <Layout title="Audit log" ctx={props.ctx}>
      <FailureSummary state={props.query} />
      <form method="get" action="/admin/audit" class="card filters">
        <Field
          as="select"
          name="app"
          label="Application"
          state={props.query}
          options={appOptions(props.ctx, props.apps, 'every application')}
        />
        <Field as="select" name="source" label="Source" state={props.query} options={options(AUDIT_SOURCES)} />
        <Field as="select" name="outcome" label="Outcome" state={props.query} options={options(AUDIT_OUTCOMES)} />
        <Field name="since" label="Since (UTC)" state={props.query} type="datetime-local" step="1" />
        <Field name="until" label="Until (UTC)" state={props.query} type="datetime-local" step="1" />
        <button type="submit">Filter</button>
      </form>
      {props.records && props.records.length === 0 && <p>No record matches.</p>}
      {props.records && props.records.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Application</th>
                <th scope="col">Source</th>
                <th scope="col">Outcome</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {props.records.map((r) => (
                <tr>
                  <td>{time(r.at)}</td>
                  <td>{r.app ?? '—'}</td>
                  <td>{r.source}</td>
                  <td>{r.outcome}</td>
                  <td>{detail(r)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.next && (
        <p>
          <a href={props.next}>Older records</a>
        </p>
      )}
    </Layout>
  )
}
