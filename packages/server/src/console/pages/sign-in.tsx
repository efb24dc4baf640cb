/** The sign-in page: the admin token, exchanged for a session cookie. */
import { Layout } from './ui.js'

/** The sign-in form; `error` when the last try was refused. */
export function SignInPage({ error }: { error?: string }) {
  return (
    <Layout title="Sign in">
      <form method="post" action="/admin/sign-in" class="card narrow">
        <div class="field">
          <label for="f-token">Admin token</label>
          <input
            id="f-token"
            name="token"
            type="password"
            autocomplete="current-password"
            required
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'f-token-error f-token-hint' : 'f-token-hint'}
          />
          <small id="f-token-hint" class="hint">
            BACKCHANNEL_ADMIN_TOKEN. It is sent once; the console keeps only a session cookie.
          </small>
          {error && (
            <p id="f-token-error" class="field-error" role="alert">
              {error}
            </p>
          )}
        </div>
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  )
}
