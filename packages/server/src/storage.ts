/** Opens the configured store; each backend loads only when chosen. */
import type { BackchannelStore } from '@backchannel/unstorage'
import type { Config } from './config.js'

/** Opens the store `config.storage` names. */
export async function openStore(config: Pick<Config, 'storage' | 'masterKey'>): Promise<BackchannelStore> {
  const { storage, masterKey } = config
  switch (storage.kind) {
    case 'memory': {
      const { memoryStore } = await import('@backchannel/unstorage/memory')
      return memoryStore(masterKey ? { masterKey } : {})
    }
    case 'fs': {
      const { fsStore } = await import('@backchannel/unstorage/fs')
      return fsStore({ base: storage.path, ...(masterKey ? { masterKey } : {}) })
    }
    case 'redis': {
      const { redisStore } = await import('@backchannel/unstorage/redis')
      return redisStore({ url: storage.url, masterKey: masterKey as Uint8Array })
    }
    case 'mongodb': {
      const { mongodbStore } = await import('@backchannel/unstorage/mongodb')
      return mongodbStore({ url: storage.url, database: storage.database, masterKey: masterKey as Uint8Array })
    }
    case 'postgres': {
      const { postgresStore } = await import('@backchannel/unstorage/postgres')
      return postgresStore({ url: storage.url, masterKey: masterKey as Uint8Array })
    }
  }
}

/** The storage URL with any password hidden, for logs. */
export function describeStorage(config: Pick<Config, 'storage'>): string {
  const { storage } = config
  if (storage.kind === 'memory') return 'memory:// (nothing survives a restart)'
  if (storage.kind === 'fs') return `fs://${storage.path}`
  // Sentinel and Cluster URLs list several hosts, which URL cannot parse.
  if (storage.kind === 'redis') return storage.url.replace(/^([^:]+:\/\/[^:@/]*):[^@/]*@/, '$1:***@')
  const url = new URL(storage.url)
  if (url.password) url.password = '***'
  return url.toString()
}
