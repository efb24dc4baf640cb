/**
 * The storage key layout. Claim values (iss, sid, sub, jti, session ids) never appear in a key:
 * unstorage rewrites `:` and `/` and drops what follows `?`, and the fs driver turns keys into
 * paths. Each id is hashed (SHA-256 cut to 128 bits, lowercase hex: safe on case-insensitive
 * file systems); the app name is hashed too, so every
 * key of one application lives under `a:<app>:` and can be removed as a whole.
 *
 *   a:<app>:s:<sessionId>        session record (JSON)
 *   a:<app>:t:<iss,sid>          sid tombstone
 *   a:<app>:w:<iss,sub>          subject watermark
 *   a:<app>:is:<iss,sid>         index set: hashed session ids of a sid
 *   a:<app>:iu:<iss,sub>         index set: hashed session ids of a subject
 *   a:<app>:ie:<email>           index set: hashed session ids registered with an email (normalised; any issuer)
 *   a:<app>:r:<iss,jti>          replay claim
 *   a:<app>:o:<time,random>      relay delivery (outbox.ts); its id is `<time,random>.<app hash>`
 *   relay-pending                index set: ids of pending relay deliveries
 *   log:relay:<app or all>       ids of relay deliveries, newest first (for listing)
 *   app:<name>                   application record (secrets encrypted)
 *   apps                         index set: every application's name (apps.ts)
 *   app-name:<name>              claim: the name is taken (apps.ts; `app-name\n<name>` in older stores)
 *   k:<apiKeyHash>               application name by API key hash
 *   set:<name>                   a gateway setting (e.g. the admin token's hash)
 *   log:<app or all>             audit log
 *   stream:<name>                Shared Signals stream record (streams.ts)
 *   streams                      index set: every stream's name (streams.ts)
 *   stream-name:<name>           claim: the stream name is taken (streams.ts)
 *   stream-status:<name>         a stream's status, from its last stream-updated event (streams.ts)
 *   stream-seen:<name>           when a stream's last verified event arrived (streams.ts)
 *   stream-verify:<name>         a stream's last verification request (streams.ts)
 *   r:<stream-lease,name,term>   claim: the instance polling a stream for one term (streams.ts)
 *   gk:<hash of kid>             the gateway's signing key (private part sealed; signing-keys.ts)
 *   signing-keys                 index set: every signing key (signing-keys.ts)
 *   cs:<hash>                    an admin console session, by its id's hash (console-sessions.ts)
 */
import { hash } from 'node:crypto'

/** A 128-bit hash of the parts, unambiguous for any strings (each part is length-prefixed). */
export function h(...parts: string[]): string {
  let input = ''
  for (const part of parts) input += `${part.length}:${part}`
  // One-shot hashing: no Hash object per call (a logout computes about ten of these).
  return hash('sha256', input, 'hex').slice(0, 32)
}

// Applications are few and their hash is in every key: remember it.
const appHashes = new Map<string, string>()
function ha(app: string): string {
  let value = appHashes.get(app)
  if (value === undefined) {
    if (appHashes.size >= 1000) appHashes.clear()
    value = h(app)
    appHashes.set(app, value)
  }
  return value
}

/** The expiry, in seconds from now, of claims that are never meant to lapse (app names, settings). */
export const FOREVER = 100 * 365 * 86400

export const keys = {
  app: (app: string) => `a:${ha(app)}`,
  session: (app: string, sessionId: string) => keys.sessionPrefix(app) + keys.sessionMember(sessionId),
  /** The key prefix of an app's session records; a record's key is it plus {@link keys.sessionMember}. */
  sessionPrefix: (app: string) => `a:${ha(app)}:s:`,
  /** How index sets name a session: its id's hash, which also ends its record's key. */
  sessionMember: (sessionId: string) => h(sessionId),
  /**
   * The marker and index keys of one application and issuer. Each sid or sub is hashed once
   * however many of its keys are asked for (a logout needs up to four per value).
   */
  of(app: string, iss: string) {
    const base = `a:${ha(app)}:`
    const ids = new Map<string, string>()
    const id = (value: string) => {
      let hashed = ids.get(value)
      if (hashed === undefined) {
        hashed = h(iss, value)
        ids.set(value, hashed)
      }
      return hashed
    }
    return {
      tombstone: (sid: string) => `${base}t:${id(sid)}`,
      watermark: (sub: string) => `${base}w:${id(sub)}`,
      sidIndex: (sid: string) => `${base}is:${id(sid)}`,
      subIndex: (sub: string) => `${base}iu:${id(sub)}`,
    }
  },
  /** The index set of the sessions registered with `email`, already normalised (`normalizeEmail`). */
  emailIndex: (app: string, email: string) => `a:${ha(app)}:ie:${h('email', email)}`,
  claim: (key: string) => `r:${h(key)}`,
  appRecord: (name: string) => `app:${h(name)}`,
  stream: (name: string) => `stream:${h(name)}`,
  streamStatus: (name: string) => `stream-status:${h(name)}`,
  streamSeen: (name: string) => `stream-seen:${h(name)}`,
  streamVerification: (name: string) => `stream-verify:${h(name)}`,
  streamLease: (name: string, term: number) => `r:${h('stream-lease', name, String(term))}`,
  consoleSession: (idHash: string) => `cs:${h(idHash)}`,
  apiKey: (hash: string) => `k:${hash}`,
  setting: (name: string) => `set:${h(name)}`,
  log: (app?: string) => (app === undefined ? 'log:all' : `log:${ha(app)}`),
  /**
   * A new delivery id: milliseconds in base 36 (so ids sort by time) and a 10-character suffix
   * unique to its maker, then the application's hash, which puts the row under the app's keys
   * (one slot on a cluster).
   */
  deliveryId: (app: string, at: number, suffix: string) =>
    `${Math.floor(at * 1000)
      .toString(36)
      .padStart(9, '0')}${suffix}.${ha(app)}`,
  /** The record of a delivery, from its id; `undefined` for a string that is no delivery id. */
  delivery(id: string): string | undefined {
    const match = DELIVERY_ID.exec(id)
    return match ? `a:${match[2]}:o:${match[1]}` : undefined
  },
  relayPending: 'relay-pending',
  relayLog: (app?: string) => (app === undefined ? 'log:relay:all' : `log:relay:${ha(app)}`),
  relayLease: (id: string) => `r:${h('relay-lease', id)}`,
}

/** What {@link keys.deliveryId} makes: 9 + 10 base-36/hex characters, a dot, the app's hash. */
export const DELIVERY_ID = /^([0-9a-z]{19})\.([0-9a-f]{32})$/

/** When a delivery was created, seconds since epoch, from its id. */
export const deliveryIdTime = (id: string) => Number.parseInt(id.slice(0, 9), 36) / 1000

// `app-name\n` is the name claim of stores written before its key lost the newline.
const CLAIM_PREFIXES = ['r:', 'app-name:', 'app-name\n', 'stream-name:']

/**
 * What a logical key holds, told from its form above, for backends that keep every kind in one
 * key space (Redis): a claim, an index set, a log, or else a record.
 */
export function keyKind(key: string): 'claim' | 'set' | 'log' | 'record' {
  if (CLAIM_PREFIXES.some((prefix) => key.startsWith(prefix))) return 'claim'
  if (key.startsWith('log:')) return 'log'
  return key === 'apps' ||
    key === 'streams' ||
    key === 'signing-keys' ||
    key === keys.relayPending ||
    /^a:[^:]+:i[sue]:/.test(key)
    ? 'set'
    : 'record'
}
