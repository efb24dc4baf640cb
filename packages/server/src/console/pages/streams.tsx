/** The Shared Signals streams and their status (the last event each received). */
import type { PublicStream } from '@backchannel/admin'
import { Layout, type PageContext, time } from './ui.js'

/** A stream and its last event, from the audit log. */
export interface StreamRow {
  stream: PublicStream
  lastEvent?: { at: number; outcome: string; event?: string; code?: string }
}

/** Every stream. */
export function StreamsPage(props: { ctx: PageContext; streams: StreamRow[]; publicUrl: string }) {
  return (
    <Layout title="Shared Signals streams" ctx={props.ctx}>
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
                <th scope="col">Last event</th>
              </tr>
            </thead>
            <tbody>
              {props.streams.map(({ stream, lastEvent }) => (
                <tr>
                  <th scope="row">{stream.name}</th>
                  <td class="mono">{stream.issuer}</td>
                  <td>{stream.apps.join(', ')}</td>
                  <td class="mono">{`${props.publicUrl}/ssf/${stream.name}`}</td>
                  <td>
                    {lastEvent
                      ? `${time(lastEvent.at)} · ${[lastEvent.event, lastEvent.outcome, lastEvent.code].filter(Boolean).join(' · ')}`
                      : 'none yet'}
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
