/**
 * vitest global setup: one real redis-server, one PostgreSQL server and one MongoDB-protocol
 * server for the whole run. In CI a missing redis-server or PostgreSQL fails the run; on a
 * developer machine their tests skip and say how to install them.
 */
import type { TestProject } from 'vitest/node'
import { startCongo } from './congo.js'
import { postgresBin, startPostgres } from './postgres-server.js'
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
  if (hasRedisServer()) {
    const redis = await startRedis()
    stops.push(redis.stop)
    project.provide('redisUrl', redis.url)
  } else if (process.env.CI) {
    throw new Error('redis-server is not installed: CI must install it (apt-get install -y redis-server)')
  } else {
    project.provide('redisUrl', null)
  }
  if (postgresBin()) {
    const postgres = await startPostgres()
    stops.push(postgres.remove)
    project.provide('postgresUrl', postgres.url)
  } else if (process.env.CI) {
    throw new Error('PostgreSQL is not installed: CI must install it (apt-get install -y postgresql)')
  } else {
    project.provide('postgresUrl', null)
  }
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
