/** Input schemas shared by the routers. */
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from '@backchannel/core'
import { z } from 'zod'

const APP_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/

/** The application name: the `:app` of `/auth/logout/:app`. */
export const appName = z
  .string()
  .regex(APP_NAME, 'must be 1–63 lowercase letters, digits or "-", not starting with "-"')

/**
 * Whether `name` is one the admin API accepts as an application or stream name: 1–63 lowercase
 * letters, digits or `-`, not starting with `-`. A route refuses any other name before it is
 * looked up, counted or cached.
 *
 * @example
 * ```ts
 * isAppName('wiki-prod') // true
 * isAppName('Wiki') // false
 * ```
 */
export function isAppName(name: string): boolean {
  return APP_NAME.test(name)
}

export const algorithms = z.array(z.enum([...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS])).min(1)

export const policy = z
  .object({
    maxTokenAge: z.number().int().positive().max(86_400).optional(),
    clockTolerance: z.number().int().min(0).max(3_600).optional(),
    allowMissingExp: z.boolean().optional(),
    logoutScope: z.enum(['session', 'user']).optional(),
    audience: z.string().min(1).max(1024).optional(),
    issuer: z.string().min(1).max(1024).optional(),
    relayWaitMs: z.number().int().min(0).max(5_000).optional(),
  })
  .strict()

/**
 * Whether a URL holds a user or password (`https://user:pass@host/`): refused wherever a URL is
 * shown (lists, `streams get`, audit records, logs).
 *
 * @example
 * ```ts
 * hasCredentials('https://user:pw@relay.example.com/bcl') // true
 * ```
 */
export function hasCredentials(url: string): boolean {
  return /^https?:\/\/[^/?#]*@/i.test(url)
}

/** An application's relays: at most 20, each URL once, `clientId` required for `sign`. */
export const relays = z
  .array(
    z
      .object({
        url: z
          .url({ protocol: /^https?$/ })
          .max(2048)
          // The URL is shown in relays.list, audit records and logs: it must hold no credentials.
          .refine((url) => !hasCredentials(url), {
            message: 'no user or password in a relay URL: it is shown in lists, audit records and logs',
          }),
        mode: z.enum(['forward', 'sign', 'hmac']),
        clientId: z.string().min(1).max(1024).optional(),
      })
      .strict()
      .refine((r) => r.mode !== 'sign' || r.clientId !== undefined, {
        message: 'clientId: required for a sign relay (the aud of the tokens the gateway signs for it)',
      }),
  )
  .max(20)
  .refine((list) => new Set(list.map((r) => r.url)).size === list.length, { message: 'each relay URL may appear once' })

/** Ids as applications and identity providers send them: any non-empty string of sane length. */
export const id = z.string().min(1).max(1024)

/**
 * An email address, as a session is registered with it: one `@` with something on each side, no
 * white space, at most 320 characters (64 for the local part, 255 for the domain). Not checked
 * further: identity providers allow addresses stricter checks refuse.
 */
export const email = z
  .string()
  .max(320)
  .regex(/^[^@\s]+@[^@\s]+$/, 'an email address: local-part@domain')

/**
 * The `id` of an audit record, as `before` to read the page after it: 22 lowercase letters and
 * digits (the time in milliseconds, the instance, a counter; see unstorage's audit log).
 */
export const auditId = z
  .string()
  .regex(/^[0-9a-z]{22}$/, 'must be the "id" of an audit record (22 lowercase letters and digits)')
  .describe('the "id" of the last record of the previous page (22 lowercase letters and digits)')

/** Seconds since epoch. */
export const time = z.number().nonnegative().max(1e11)

/** A grace period in seconds: how long a rotated-out secret or key still verifies (at most 30 days). */
export const graceSeconds = z
  .number()
  .int()
  .min(0)
  .max(30 * 86_400)
