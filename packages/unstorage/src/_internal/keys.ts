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
 *   a:<app>:is:<iss,sid>         index set: session ids of a sid
 *   a:<app>:iu:<iss,sub>         index set: session ids of a subject
 *   a:<app>:r:<iss,jti>          replay claim
 *   app:<name>                   application record (secrets encrypted)
 *   k:<apiKeyHash>               application name by API key hash
 *   set:<name>                   a gateway setting (e.g. the admin token's hash)
 *   log:<app or all>             audit log
 */
import { createHash } from 'node:crypto'

/** A 128-bit hash of the parts, unambiguous for any strings. */
export function h(...parts: string[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(`${Buffer.byteLength(part)}:${part}`)
  return hash.digest('hex').slice(0, 32)
}

export const keys = {
  app: (app: string) => `a:${h(app)}`,
  session: (app: string, sessionId: string) => `a:${h(app)}:s:${h(sessionId)}`,
  tombstone: (app: string, iss: string, sid: string) => `a:${h(app)}:t:${h(iss, sid)}`,
  watermark: (app: string, iss: string, sub: string) => `a:${h(app)}:w:${h(iss, sub)}`,
  sidIndex: (app: string, iss: string, sid: string) => `a:${h(app)}:is:${h(iss, sid)}`,
  subIndex: (app: string, iss: string, sub: string) => `a:${h(app)}:iu:${h(iss, sub)}`,
  claim: (key: string) => `r:${h(key)}`,
  appRecord: (name: string) => `app:${h(name)}`,
  apiKey: (hash: string) => `k:${hash}`,
  setting: (name: string) => `set:${h(name)}`,
  log: (app?: string) => (app === undefined ? 'log:all' : `log:${h(app)}`),
}
