/**
 * vitest global setup: one real redis-server, one PostgreSQL server and one MongoDB-protocol
 * server for the whole run. In CI a missing redis-server or PostgreSQL fails the run; on a
 * developer machine their tests skip and say how to install them.
 */
import type { TestProject } from 'vitest/node'
import { postgresBin, startPostgres } from '../../../../test/postgres-server.js'
import { startCongo } from './congo.js'
import { hasRedisServer, startRedis } from './redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string | null
    /** A fresh PostgreSQL cluster's URL (database `postgres`), `null` where none is installed. */
    postgresUrl: string | null
    mongoUrl: string
    mongoKind: 'congodb' | 'mongodb'
  }
}

export default async function setup(project: TestProject) {
  const stops: (() => Promise<void>)[] = []
  /** Starts a server when it is installed; otherwise its tests skip, except in CI. */
  const optional = async (
    name: 'redisUrl' | 'postgresUrl',
    installed: boolean,
    start: () => Promise<{ url: string; stop(): Promise<void> }>,
    debianPackage: string,
  ) => {
    if (!installed && process.env.CI) {
      throw new Error(`${debianPackage} is not installed: CI must install it (apt-get install -y ${debianPackage})`)
    }
    const server = installed ? await start() : undefined
    if (server) stops.push(server.stop)
    project.provide(name, server?.url ?? null)
  }
  await optional('redisUrl', hasRedisServer(), startRedis, 'redis-server')
  await optional(
    'postgresUrl',
    postgresBin() !== undefined,
    async () => {
      // A throwaway cluster: durability off.
      const postgres = await startPostgres({ settings: ['fsync=off'] })
      return { url: postgres.url, stop: postgres.remove }
    },
    'postgresql',
  )
  if (process.env.MONGODB_URL) {
    project.provide('mongoUrl', process.env.MONGODB_URL)
    project.provide('mongoKind', 'mongodb')
  } else {
    const congo = await startCongo()
    stops.push(congo.stop)
    project.provide('mongoUrl', congo.url)
    project.provide('mongoKind', 'congodb')
  }
  return async () => {
    for (const stop of stops) await stop()
  }
}
