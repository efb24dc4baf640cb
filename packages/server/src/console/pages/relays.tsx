/** Relay deliveries and dead letters, retried from the page. */
import type { AppRouter } from '@backchannel/admin'
import type { inferRouterOutputs } from '@trpc/server'
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

type Delivery = inferRouterOutputs<AppRouter>['relays']['list'][number]

/** The filter form and the deliveries, newest first, each dead one with a retry button. */
export function RelaysPage(props: {
  ctx: PageContext
  apps: string[]
  query: FormState
  deliveries: Delivery[]
  retry?: FormState
  notice?: string
}) {
  const app = props.query.values?.app ?? ''
  const state = props.query.values?.state ?? ''
  return (
    <Layout title="Relay deliveries" ctx={props.ctx}>
      <Notice text={props.notice} />
      <FailureSummary state={props.query} />
      <FailureSummary state={props.retry} />
      <form method="get" action="/admin/relays" class="card filters">
        <Field
          as="select"
          name="app"
          label="Application"
          state={props.query}
          options={appOptions(props.ctx, props.apps, 'every application')}
        />
        <Field
          as="select"
          name="state"
          label="State"
          state={props.query}
          options={[
            ['', 'any'],
            ['pending', 'pending'],
            ['delivered', 'delivered'],
            ['dead', 'dead'],
          ]}
        />
        <button type="submit">Filter</button>
      </form>
      {app && state === 'dead' && props.deliveries.length > 0 && (
        <form method="post" action="/admin/relays/retry">
          <Csrf ctx={props.ctx} />
          <input type="hidden" name="app" value={app} />
          <button type="submit">Retry every dead letter of {app}</button>
        </form>
      )}
      {props.deliveries.length === 0 ? (
        <p>No delivery.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Application</th>
                <th scope="col">Relay</th>
                <th scope="col">State</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">
                  <span class="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.deliveries.map((d) => (
                <tr>
                  <td>{time(d.createdAt)}</td>
                  <td>{d.app}</td>
                  <td class="mono">
                    {d.mode} {d.url}
                  </td>
                  <td>{d.state === 'pending' ? `pending, next ${time(d.nextAttemptAt)}` : d.state}</td>
                  <td>{d.attempts}</td>
                  <td>{[d.lastStatus && `HTTP ${d.lastStatus}`, d.lastError].filter(Boolean).join(': ') || '—'}</td>
                  <td>
                    {d.state === 'dead' && (
                      <form method="post" action="/admin/relays/retry" class="inline">
                        <Csrf ctx={props.ctx} />
                        <input type="hidden" name="id" value={d.id} />
                        <button
                          type="submit"
                          aria-label={`Retry the delivery to ${d.url} created ${time(d.createdAt)}`}
                        >
                          Retry
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  )
}
