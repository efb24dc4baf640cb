/**
 * Runs the gateway: opens the store, resolves the admin token, listens, and shuts down
 * gracefully on SIGTERM/SIGINT (stop accepting, finish requests in flight and audit writes,
 * close the store). Logs are JSON on stdout; the banner and a generated admin token go to
 * stderr, so no token ever enters the log stream.
 * @module
 */
import { serve } from 'h3'
import { resolveAdminToken } from './admin-token.js'
import { type Config, ConfigError, isGatewayWorker } from './config.js'
import { createGateway } from './gateway.js'
import { createLogger } from './logger.js'
import { describeStorage, openStore } from './storage.js'

/** A running gateway. */
export interface RunningServer {
  url: string
  /** Stops as on SIGTERM. */
  stop(): Promise<void>
}

/**
 * Opens the store, resolves the admin token, listens and — unless `handleSignals` is false — stops
 * gracefully on SIGTERM/SIGINT. What `backchannel serve` runs.
 *
 * @example
 * ```ts
 * const server = await runServer(loadConfig(process.env))
 * console.log(server.url)
 * ```
 */
export async function runServer(config: Config, { handleSignals = true } = {}): Promise<RunningServer> {
  const logger = createLogger(config.logLevel)
  const store = await openStore(config)
  const admin = await resolveAdminToken(store, config.adminToken)
  const gateway = createGateway({
    store,
    adminTokenHash: admin.hash,
    logger,
    trustProxy: config.trustProxy,
    trustedProxies: config.trustedProxies,
    failureLimits: config.failureLimits,
    fetchPolicy: { allowInsecure: config.allowInsecureIssuers, trustedHosts: config.trustedIssuerHosts },
    publicUrl: config.publicUrl,
  })
  // The first start makes the signing key. Keys that cannot be read (sealed under another master
  // key, a store down) do not stop the start: only what needs them fails, as for app secrets.
  await store.keys.ensure().catch((err) => logger.error({ err }, 'the signing keys cannot be read'))
  const server = serve(gateway.app, {
    port: config.port,
    hostname: config.host,
    silent: true,
    gracefulShutdown: false,
    // Not exclusive: under --workers, node:cluster shares the primary's one socket.
    node: { exclusive: false },
  })
  await server.ready().catch(async (err: NodeJS.ErrnoException) => {
    await store.close()
    if (err?.code !== 'EADDRINUSE') throw err
    throw new ConfigError(
      'PORT',
      `port ${config.port} on ${config.host} is already in use (EADDRINUSE): stop what listens there, or choose another port with PORT=`,
    )
  })
  if (config.allowInsecureIssuers) {
    logger.warn(
      'BACKCHANNEL_ALLOW_INSECURE_ISSUERS is on: http: and private addresses are allowed for issuers (development only)',
    )
  }
  // A wildcard address is where it listens, not where to point a browser.
  const url = (server.url ?? `http://${config.host}:${config.port}/`)
    .replace(/\/$/, '')
    .replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//localhost')
  logger.info({ url, storage: describeStorage(config) }, 'listening')
  // Under --workers the primary prints the banner, once.
  if (!isGatewayWorker()) printBanner(url, config, admin.generated)

  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      logger.info('shutting down: no new requests, finishing the ones in flight')
      await server.close()
      await gateway.close()
      await store.close()
      logger.info('stopped')
      logger.flush()
    })()
    return stopping
  }
  if (handleSignals) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        stop().then(
          () => process.exit(0),
          (err) => {
            logger.error({ err }, 'shutdown failed')
            process.exit(1)
          },
        )
      })
    }
  }
  return { url, stop }
}

/**
 * Tells the person who started the gateway where it listens, on stderr; and, when this start
 * generated the admin token, the token itself, this once (it is kept only as a hash).
 */
export function printBanner(url: string, config: Config, generatedToken: string | undefined, extra: string[] = []) {
  const lines = [`Backchannel listening on ${url}`, `storage: ${describeStorage(config)}`, ...extra]
  if (generatedToken) {
    lines.push(
      '',
      'Generated the admin token. It is shown this once and kept only as a hash; store it now:',
      `  BACKCHANNEL_ADMIN_TOKEN=${generatedToken}`,
      '',
    )
  }
  process.stderr.write(`${lines.join('\n')}\n`)
}
