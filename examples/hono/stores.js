// The store of bun.js and deno.js: Redis over TCP when REDIS_URL is set, else memory.
import { memoryStore } from '@backchannel/unstorage/memory'
import { redisStore } from '@backchannel/unstorage/redis'

/** @param {Record<string, string | undefined>} env */
export function storeFromEnv(env) {
  if (!env.REDIS_URL) return memoryStore()
  // The key that seals stored secrets (this app stores none): every instance needs the same one.
  const masterKey = env.MASTER_KEY
    ? Uint8Array.from(env.MASTER_KEY.match(/../g), (byte) => Number.parseInt(byte, 16))
    : crypto.getRandomValues(new Uint8Array(32))
  return redisStore({ url: env.REDIS_URL, masterKey })
}
