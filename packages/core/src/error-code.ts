/**
 * The codes of core's errors as a type, read from the classes in `errors.ts` so that a new error
 * class is a new code without a second list to update.
 * @module
 */
import type * as errors from './errors.js'

type Classes = typeof errors

/**
 * Every `code` an error thrown by `@backchannel/core` can carry, e.g. `'ERR_LOGOUT_TOKEN_EXPIRED'`.
 * The base classes (`BackchannelError`, `LogoutTokenInvalid`, `IssuerRefused`) are for
 * `instanceof` and are never thrown themselves, so their codes are not in it.
 *
 * @example
 * ```ts
 * import type { BackchannelErrorCode } from '@backchannel/core'
 * const retryable: BackchannelErrorCode[] = ['ERR_KEYS_UNAVAILABLE', 'ERR_STORE_UNAVAILABLE']
 * ```
 */
export type BackchannelErrorCode = {
  [K in keyof Classes]: string extends Classes[K]['code'] ? never : Classes[K]['code']
}[keyof Classes]

/** The codes of the logout token's rules (`LogoutTokenInvalid` and its subclasses): all answer 400. */
export type LogoutTokenErrorCode = Extract<BackchannelErrorCode, `ERR_LOGOUT_TOKEN_${string}`>

/** The codes of the Security Event Token's rules (`SetInvalid` and its subclasses): all answer 400. */
export type SetErrorCode = Extract<BackchannelErrorCode, `ERR_SET_${string}`>
