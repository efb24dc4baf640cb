/**
 * Where a driver's error becomes `ERR_STORE_UNAVAILABLE`: {@link guardStore}, applied once at the
 * edge of every store the gateway talks to.
 * @module
 */
import { BackchannelError, StoreUnavailable } from './errors.js'

/** Stores that {@link guardStore} made: guarding them again returns them as they are. */
const guarded = new WeakSet<object>()
/** The guard made for each unguarded store, so that guarding the same store again costs a lookup. */
const guards = new WeakMap<object, object>()

/**
 * A store whose methods turn any error that is not already a {@link BackchannelError} (a
 * connection refused, a driver's timeout, a bug in a custom revoker) into {@link StoreUnavailable},
 * with the original as `cause`, so that a logout is answered 503 and the admin API
 * `SERVICE_UNAVAILABLE`. Methods are looked up on `store` at each call; other properties are
 * copied. Guarding a guarded store returns it, and a store is wrapped once however often it is
 * guarded: the logout flow guards what it is handed on every request.
 *
 * @example
 * ```ts
 * import { defineRevoker, guardStore } from '@backchannel/core'
 * const revoker = guardStore(defineRevoker({ revoke: () => Promise.reject(new Error('ECONNREFUSED')) }))
 * await revoker.revoke({ app: 'wiki', iss: 'https://id.example.com', sid: 's', scope: 'session', issuedAt: 0 })
 * // rejects with StoreUnavailable: code 'ERR_STORE_UNAVAILABLE', the Error as its cause
 * ```
 */
export function guardStore<T extends object>(store: T): T {
  if (guarded.has(store)) return store
  let guard = guards.get(store)
  if (!guard) {
    guard = wrap(store)
    guards.set(store, guard)
    guarded.add(guard)
  }
  return guard as T
}

function wrap(store: object): object {
  const wrapped: Record<string, unknown> = {}
  const target = store as Record<string, unknown>
  for (const name of propertyNames(store)) {
    const value = target[name]
    if (typeof value !== 'function') {
      wrapped[name] = value
      continue
    }
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (target[name] as (...a: unknown[]) => unknown).apply(store, args)
      } catch (err) {
        if (err instanceof BackchannelError) throw err
        // Said to identity providers and API callers: what failed, not which internal method.
        // The driver's error stays as `cause`, for the gateway's log.
        throw new StoreUnavailable('the store did not answer; retry later', { cause: err })
      }
    }
  }
  return wrapped
}

/** Own and inherited property names (a class's methods live on its prototype), not Object's. */
function propertyNames(store: object): Set<string> {
  const names = new Set<string>()
  for (let o: object | null = store; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) if (name !== 'constructor') names.add(name)
  }
  return names
}
