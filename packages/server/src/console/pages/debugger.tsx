/** The token debugger: a pasted logout token or SET, its header and claims, and the first rule it fails. */
import type { TokenReport } from '../debugger.js'
import { Csrf, FailureSummary, Field, type FormState, Layout, type PageContext } from './ui.js'

/** The form, and the report of the token last sent. */
export function DebuggerPage(props: {
  ctx: PageContext
  targets: [string, string][]
  state?: FormState
  report?: TokenReport
}) {
  const { report } = props
  return (
    <Layout title="Token debugger" ctx={props.ctx}>
      <p>Nothing sent here is stored or logged, and its jti is not claimed: the token can still be used.</p>
      <FailureSummary state={props.state} />
      <form method="post" action="/admin/debugger" class="card">
        <Csrf ctx={props.ctx} />
        <Field
          as="textarea"
          name="token"
          label="Logout token or Security Event Token"
          state={props.state}
          rows={6}
          required
          spellcheck={false}
        />
        <Field as="select" name="target" label="Verify for" state={props.state} options={props.targets} />
        <button type="submit">Check</button>
      </form>
      {report && (
        <section aria-labelledby="result" class="card">
          <h2 id="result">Result</h2>
          <p id="verdict" class={report.failure ? 'field-error' : 'notice'} role="status">
            {report.failure
              ? `Refused: ${report.failure.code}: ${report.failure.message}`
              : 'Accepted: the token passes every rule (nothing was revoked).'}
          </p>
          <h3>Header</h3>
          <pre class="mono">{report.header ?? 'not readable'}</pre>
          <h3>Claims</h3>
          <pre class="mono">{report.claims ?? 'not readable'}</pre>
        </section>
      )}
    </Layout>
  )
}
