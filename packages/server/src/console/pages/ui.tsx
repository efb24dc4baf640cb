/**
 * The console's building blocks: the page layout, labelled fields whose errors are linked to
 * them (`aria-describedby`), and the copy button. Preact escapes every value.
 * @module
 */
import type { ComponentChildren, JSX } from 'preact'
import type { ApiFailure } from '../api.js'

/** What every signed-in page knows: the session's CSRF token, for its forms, and whose space it is. */
export interface PageContext {
  csrf: string
  /** Signed in with this application's API key: its owner's tenant space. Absent for the admin. */
  owner?: string
}

/** The operator's navigation. */
const NAV: readonly (readonly [string, string])[] = [
  ['/admin/apps', 'Applications'],
  ['/admin/sessions', 'Sessions'],
  ['/admin/audit', 'Audit log'],
  ['/admin/relays', 'Relays'],
  ['/admin/streams', 'Streams'],
  ['/admin/debugger', 'Token debugger'],
]

/** An owner's navigation: its application and what the API lets it reach of it; none of the operator's pages. */
const ownerNav = (app: string): readonly (readonly [string, string])[] => [
  [`/admin/apps/${app}`, app],
  [`/admin/sessions?app=${app}`, 'Sessions'],
  [`/admin/audit?app=${app}`, 'Audit log'],
  [`/admin/relays?app=${app}`, 'Relays'],
  ['/admin/debugger', 'Token debugger'],
]

/** The frame of every page; `ctx` absent on the sign-in page (no navigation, no sign-out). */
export function Layout(props: { title: string; ctx?: PageContext; children: ComponentChildren }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Backchannel`}</title>
        <link rel="stylesheet" href="/admin/assets/console.css" />
        <script src="/admin/assets/console.js" defer />
      </head>
      <body>
        <header>
          <span class="brand">Backchannel</span>
          {props.ctx && (
            <nav aria-label="Console">
              {(props.ctx.owner ? ownerNav(props.ctx.owner) : NAV).map(([href, label]) => (
                <a href={href}>{label}</a>
              ))}
              <form method="post" action="/admin/sign-out" class="inline">
                <Csrf ctx={props.ctx} />
                <button type="submit">Sign out</button>
              </form>
            </nav>
          )}
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  )
}

/** The hidden CSRF field every form of a signed-in page carries. */
export function Csrf({ ctx }: { ctx: PageContext }) {
  return <input type="hidden" name="csrf" value={ctx.csrf} />
}

/** What a form was sent with and what the API said of it, to show it again. */
export interface FormState {
  values?: Record<string, string>
  failure?: ApiFailure
}

/** The id of a field's input, from its name (`policy.maxTokenAge` → `f-policy-maxTokenAge`); `form` keeps two forms' fields apart. */
const fieldId = (name: string, form?: string) => `f-${form ? `${form}-` : ''}${name.replace(/[^\w-]/g, '-')}`

/** What a field may set on its control, beyond its name and label. */
interface ControlProps {
  type?: 'text' | 'url' | 'datetime-local'
  value?: string
  required?: boolean
  inputMode?: 'numeric' | 'text'
  step?: string
  rows?: number
  spellcheck?: boolean
}

type FieldProps = {
  name: string
  label: string
  state?: FormState
  hint?: string
  /** The form's own prefix for ids, when a page has two forms with a field of the same name. */
  form?: string
} & ControlProps &
  ({ as?: 'input' | 'textarea' } | { as: 'select'; options: readonly (readonly [string, string])[] })

/** A labelled input, textarea or select; the API's message for this field is shown under it and linked. */
export function Field(props: FieldProps) {
  const { name, label, state, hint, form } = props
  const id = fieldId(name, form)
  const error = state?.failure?.fields[name]
  const value = state?.values?.[name]
  const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined
  const common = { id, name, 'aria-describedby': describedBy, 'aria-invalid': error ? ('true' as const) : undefined }
  let control: JSX.Element
  if (props.as === 'select') {
    control = (
      <select {...common}>
        {props.options.map(([optionValue, text]) => (
          <option value={optionValue} selected={optionValue === (value ?? '')}>
            {text}
          </option>
        ))}
      </select>
    )
  } else {
    const { type, required, inputMode, step, rows, spellcheck } = props
    const given = value ?? props.value
    control =
      props.as === 'textarea' ? (
        <textarea {...common} rows={rows} required={required} spellcheck={spellcheck} value={given} />
      ) : (
        // preact types each input type with the roles it allows; these three take none, as text does.
        <input
          {...common}
          type={(type ?? 'text') as 'text'}
          required={required}
          inputMode={inputMode}
          step={step}
          value={given}
        />
      )
  }
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {control}
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <p id={`${id}-error`} class="field-error">
          {error}
        </p>
      )}
    </div>
  )
}

/** The API's refusal of a form, in full, announced to screen readers. */
export function FailureSummary({ state }: { state?: FormState }) {
  if (!state?.failure) return null
  return (
    <div class="error-summary" role="alert">
      <strong>The gateway refused this:</strong> {state.failure.message}
    </div>
  )
}

/** A notice after an action (post, redirect, get), announced politely. */
export function Notice({ text }: { text?: string }) {
  return text ? (
    <p class="notice" role="status">
      {text}
    </p>
  ) : null
}

/** A value to copy (a URL, a secret, a command), with a button the console's script wires up. */
export function Copyable(props: { id: string; label: string; value: string }) {
  return (
    <div class="copyable">
      <label for={props.id}>{props.label}</label>
      <div class="copy-row">
        <input id={props.id} readonly value={props.value} class="mono" />
        <button type="button" data-copy={props.id}>
          Copy
        </button>
      </div>
    </div>
  )
}

/** A time in seconds since epoch, as ISO 8601 UTC (to the second), or a dash. */
export function time(seconds: number | undefined): string {
  return seconds === undefined ? '—' : new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * Options of an application select: every app, and "any" first when `any` is given, unless an
 * owner is signed in (its one application is all it may choose).
 */
export function appOptions(ctx: PageContext, names: readonly string[], any?: string): [string, string][] {
  const all = any && !ctx.owner ? [['', any] as [string, string]] : []
  return [...all, ...names.map((n) => [n, n] as [string, string])]
}
