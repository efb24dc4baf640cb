/**
 * The token debugger's check: a logout token for an application, or a Security Event Token for a
 * stream, through core's own verifiers. They only verify: the `jti` is claimed by the flows that
 * act on a token, never here, so the token stays usable and nothing is stored or logged.
 * @module
 */
import { isAppName } from '@backchannel/admin'
import { BackchannelError, type LogoutVerifier, type SetVerifier } from '@backchannel/core'
import type { GatewayStore } from '@backchannel/unstorage'
import { decodeJwt, decodeProtectedHeader } from 'jose'

/** What the debugger shows of a token: its header and claims as JSON, and the first rule it fails. */
export interface TokenReport {
  header?: string
  claims?: string
  /** Absent when the token passes every rule. */
  failure?: { code: string; message: string }
}

/** What the check needs: the gateway's verifiers (sharing its key cache) and its store. */
export interface TokenCheck {
  logout: LogoutVerifier
  set: SetVerifier
  store: GatewayStore
  now: () => number
}

/** A target as the form names it: `app:<name>` or `stream:<name>`. */
export function parseTarget(target: string): { kind: 'app' | 'stream'; name: string } | undefined {
  const match = /^(app|stream):(.*)$/.exec(target)
  return match && isAppName(match[2] as string)
    ? { kind: match[1] as 'app' | 'stream', name: match[2] as string }
    : undefined
}

const pretty = (read: () => unknown) => {
  try {
    return JSON.stringify(read(), null, 2)
  } catch {
    return undefined
  }
}

/** Checks `token` against `target`; a target that does not exist is a failure like any other. */
export async function checkToken(check: TokenCheck, token: string, target: string): Promise<TokenReport> {
  const trimmed = token.trim()
  const header = pretty(() => decodeProtectedHeader(trimmed))
  const claims = pretty(() => decodeJwt(trimmed))
  const report = { ...(header && { header }), ...(claims && { claims }) }
  const parsed = parseTarget(target)
  try {
    if (parsed?.kind === 'app') {
      const app = await check.store.apps.get(parsed.name)
      if (!app)
        return { ...report, failure: { code: 'ERR_APP_UNKNOWN', message: `no application is named ${parsed.name}` } }
      await check.logout.verify(trimmed, app, { now: check.now() })
    } else if (parsed?.kind === 'stream') {
      const stream = await check.store.streams.get(parsed.name)
      if (!stream)
        return { ...report, failure: { code: 'ERR_STREAM_UNKNOWN', message: `no stream is named ${parsed.name}` } }
      await check.set.verify(trimmed, stream, check.now())
    } else {
      return { ...report, failure: { code: 'ERR_REQUEST_INVALID', message: 'choose an application or a stream' } }
    }
    return report
  } catch (err) {
    if (!(err instanceof BackchannelError)) throw err
    return { ...report, failure: { code: err.code, message: err.message } }
  }
}
