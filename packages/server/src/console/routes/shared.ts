/**
 * What every console route shares: the request a handler gets, what it may use beyond it, and the
 * few helpers several pages need.
 * @module
 */
import type { AdminCaller } from '../api.js'
import type { TokenCheck } from '../debugger.js'
import { type FormValues, optional } from '../forms.js'
import type { PageContext } from '../pages/ui.js'

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

/** A page or an action: the answer to one signed-in request. */
export type Handler = (req: ConsoleRequest, deps: RouteDependencies) => Promise<Response>

/** Notices after a redirect, by the `notice` parameter: fixed texts, so a link cannot put words in the console's mouth. */
const NOTICES: Record<string, (count: string) => string> = {
  saved: () => 'Saved.',
  unchanged: () => 'Nothing was changed.',
  revoked: (n) => `${n} session(s) revoked.`,
  retried: (n) => `${n} delivery(ies) queued again.`,
  verify: () =>
    'Verification asked for: the transmitter sends its event, and the stream shows verified once it arrives.',
}
/** The notice a redirect asked for (`?notice=revoked&count=2`), if it is one of {@link NOTICES}; a count is digits only. */
export function notice(url: URL): string | undefined {
  const count = url.searchParams.get('count') ?? ''
  return NOTICES[url.searchParams.get('notice') ?? '']?.(/^\d{1,9}$/.test(count) ? count : '0')
}

/** The back-channel logout URL of an application: what its identity provider posts to. */
export const logoutUrl = (deps: RouteDependencies, app: string) => `${deps.publicUrl}/auth/logout/${app}`
/** The application names the pages' selects offer: every one to the admin, its own to an owner. */
export const appNames = async ({ api, ctx }: Pick<ConsoleRequest, 'api' | 'ctx'>) =>
  ctx.owner ? [ctx.owner] : (await api.apps.list()).map((a) => a.name)

/** The application a page's query names; an owner's own when it names none (the API wants it named). */
export const chosenApp = (ctx: ConsoleRequest['ctx'], value: string | undefined) => optional(value) ?? ctx.owner
