/** The sign-in page: the admin token or an application's API key, exchanged for a session cookie. */
import { Layout, Notice } from './ui.js'

/** The sign-in form; `error` when the last try was refused. */
export function SignInPage({ error, notice }: { error?: string; notice?: string }) {
  return (
    <Layout title="Sign in">
      <Notice text={notice} />
      <form method="post" action="/admin/sign-in" class="card narrow">
        <div class="field">
          <label for="f-token">Admin token or API key</label>
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
            The operator's BACKCHANNEL_ADMIN_TOKEN, or an application's API key (bck_…) for that application's own
            space. It is sent once; the console keeps only a session cookie.
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
