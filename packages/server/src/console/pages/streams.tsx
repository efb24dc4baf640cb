/** The Shared Signals streams, their status and verification, each with a button that asks for a verification event. */
import type { StreamWithState } from '@backchannel/admin'
import { Csrf, FailureSummary, Field, type FormState, Layout, Notice, type PageContext, time } from './ui.js'

/** A stream with its state, and its last event from the audit log. */
export interface StreamRow {
  stream: StreamWithState
  lastEvent?: { at: number; outcome: string; event?: string; code?: string }
}

/** Where a stream's last verification stands, in words. */
function verification(v: StreamWithState['lastVerification']): string {
  if (!v) return 'never asked'
  return v.verifiedAt === undefined
    ? `asked ${time(v.requestedAt)}, not verified yet`
    : `verified ${time(v.verifiedAt)} (asked ${time(v.requestedAt)})`
}

/** Every stream; `verify` is the refused verification of the stream `verify.values.name`, shown again. */
export function StreamsPage(props: {
  ctx: PageContext
  streams: StreamRow[]
  publicUrl: string
  verify?: FormState
  notice?: string
}) {
  return (
    <Layout title="Shared Signals streams" ctx={props.ctx}>
      <Notice text={props.notice} />
      <FailureSummary state={props.verify} />
      {props.streams.length === 0 ? (
        <p>No stream is registered (backchannel streams create).</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Transmitter</th>
                <th scope="col">Applications</th>
                <th scope="col">Push URL</th>
                <th scope="col">Status</th>
                <th scope="col">Last event</th>
                <th scope="col">Verification</th>
              </tr>
            </thead>
            <tbody>
              {props.streams.map(({ stream, lastEvent }) => (
                <tr>
                  <th scope="row">{stream.name}</th>
                  <td class="mono">{stream.issuer}</td>
                  <td>{stream.apps.join(', ')}</td>
                  <td class="mono">
                    {stream.delivery === 'poll' ? 'polled' : `${props.publicUrl}/ssf/${stream.name}`}
                  </td>
                  <td>{[stream.status, stream.statusReason].filter(Boolean).join(': ')}</td>
                  <td>
                    {lastEvent
                      ? `${time(lastEvent.at)} · ${[lastEvent.event, lastEvent.outcome, lastEvent.code].filter(Boolean).join(' · ')}`
                      : stream.lastEventAt === undefined
                        ? 'none yet'
                        : time(stream.lastEventAt)}
                  </td>
                  <td>
                    <p>{verification(stream.lastVerification)}</p>
                    <form method="post" action="/admin/streams/verify">
                      <Csrf ctx={props.ctx} />
                      <input type="hidden" name="name" value={stream.name} />
                      <Field
                        name="accessToken"
                        form={`verify-${stream.name}`}
                        label="Transmitter access token (optional)"
                        hint="The bearer token of the transmitter's management API; used once, never kept."
                        state={props.verify?.values?.name === stream.name ? props.verify : undefined}
                      />
                      <button type="submit" aria-label={`Verify the stream ${stream.name}`}>
                        Verify
                      </button>
                    </form>
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
