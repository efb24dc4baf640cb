/**
 * A MongoDB wire-protocol server for tests: CongoDB (from @push.rocks/smartmongo), which the
 * official driver talks to over TCP. It does not enforce unique indexes and never runs TTL
 * expiry; set MONGODB_URL to run the same tests against a real MongoDB.
 */
// A deep import: the package's root entry pulls in modules that are not published.
import { CongoServer } from '@push.rocks/smartmongo/dist_ts/congodb/index.js'
import { freePort } from './redis-server.js'

export async function startCongo(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort()
  const server = new CongoServer({ port, host: '127.0.0.1' })
  await server.start()
  return { url: `mongodb://127.0.0.1:${port}`, stop: () => server.stop() }
}
