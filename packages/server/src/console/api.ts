/**
 * The console calls the admin API in process: the same procedures, with the signed-in admin or
 * owner as the caller, so every rule (what an owner may reach), validation message and audit
 * record (its actor) is the API's own.
 * @module
 */
import { type AdminDependencies, appRouter, type Caller, createCallerFactory, errorMessage } from '@backchannel/admin'
import { TRPCError } from '@trpc/server'
import { getHTTPStatusCodeFromError } from '@trpc/server/http'

const callerOf = createCallerFactory(appRouter)

/** The admin API as the signed-in admin or owner calls it. */
export type AdminCaller = ReturnType<typeof callerOf>

/** A caller of the admin API as the admin, or (`owner` given) as that application's owner. */
export function consoleCaller(deps: AdminDependencies, owner?: string): AdminCaller {
  const caller: Caller = owner === undefined ? { role: 'admin' } : { role: 'app', app: owner }
  return callerOf({ deps, now: deps.now ?? (() => Date.now() / 1000), caller })
}

/** A refused call as a page shows it: the API's message, and the message of each field it names. */
export interface ApiFailure {
  message: string
  /** The status the API answers the refusal with (400 for a bad field, 403 for another's application, …). */
  status: number
  /** By field path as the form names its inputs (`name`, `policy.maxTokenAge`). */
  fields: Record<string, string>
}

/**
 * The failure of an API call, for the page that made it. A message the API starts with field
 * names (`clientId: required with issuer`, `sub/sid: give at least one`) is linked to those fields.
 * Anything that is not the API's refusal is thrown again.
 */
export function apiFailure(err: unknown): ApiFailure {
  if (!(err instanceof TRPCError)) throw err
  const message = errorMessage(err)
  const fields: Record<string, string> = {}
  for (const part of message.split('; ')) {
    const named = /^([A-Za-z][\w.]*(?:\/[A-Za-z][\w.]*)*): (.+)$/.exec(part)
    if (!named?.[1] || !named[2]) continue
    for (const field of named[1].split('/')) fields[field] = fields[field] ? `${fields[field]}; ${named[2]}` : named[2]
  }
  return { message, status: getHTTPStatusCodeFromError(err), fields }
}

/** Calls the API; a refusal becomes an {@link ApiFailure} instead of an exception. */
export async function attempt<T>(
  call: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; failure: ApiFailure }> {
  try {
    return { ok: true, value: await call() }
  } catch (err) {
    return { ok: false, failure: apiFailure(err) }
  }
}
