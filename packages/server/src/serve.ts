/**
 * Runs the gateway: opens the store, resolves the admin token, loads the revoker plugin if one is
 * configured, listens, and shuts down gracefully on SIGTERM/SIGINT (stop accepting, finish requests
 * in flight and audit writes, close the plugin and the store). Logs are JSON on stdout; the banner
 * and a generated admin token go to stderr, so no token ever enters the log stream.
 * @module
 */
import { type H3, serve } from 'h3'
import { resolveAdminToken } from './admin-token.js'
import { type Config, ConfigError, isGatewayWorker } from './config.js'
import { createGateway, MANAGEMENT_PATHS } from './gateway.js'
import { createLogger } from './logger.js'
import { answerMetricsRequests } from './metrics.js'
import { loadRevokerPlugin, type RevokerPlugin } from './revoker-plugin.js'
import { describeStorage, openStore } from './storage.js'

/** A running gateway. */
export interface RunningServer {
  /** The public listener. */
  url: string
  /** The management listener, when `BACKCHANNEL_MANAGEMENT_ADDRESS` is set. */
  managementUrl?: string
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
  if (isGatewayWorker()) answerMetricsRequests()
  const store = await openStore(config)
  const admin = await resolveAdminToken(store, config.adminToken)
  // A start that fails after generating the admin token still shows it: it is not generated again.
  const showGeneratedToken = () => admin.generated && printGeneratedToken(admin.generated)
  let plugin: RevokerPlugin | undefined
  if (config.revoker) {
    plugin = await loadRevokerPlugin(config.revoker, { config, logger, store }).catch(async (err) => {
      showGeneratedToken()
      await store.close()
      throw err
    })
  }
  // The plugin's resources, then the store, once nothing uses them any more.
  const release = async () => {
    await plugin?.close?.()
    await store.close()
  }
  const gateway = createGateway({
    store,
    sessions: plugin?.revoker,
    replay: plugin?.replay,
    adminTokenHash: admin.hash,
    logger,
    trustProxy: config.trustProxy,
    trustedProxies: config.trustedProxies,
    failureLimits: config.failureLimits,
    fetchPolicy: {
      allowInsecure: config.allowInsecureIssuers,
      trustedHosts: config.trustedIssuerHosts,
      proxy: config.proxy,
    },
    publicUrl: config.publicUrl,
    relays: {},
    streamPolling: {},
  })
  // The first start makes the signing key. Keys that cannot be read (sealed under another master
  // key, a store down) do not stop the start: only what needs them fails, as for app secrets.
  await store.keys.ensure().catch((err) => logger.error({ err }, 'the signing keys cannot be read'))
  const management = config.managementAddress
  const listeners = management
    ? [
        listen(gateway.listener('public'), config.port, config.host, 'PORT', PUBLIC_TIMEOUTS),
        listen(gateway.listener('management'), management.port, management.host, 'BACKCHANNEL_MANAGEMENT_ADDRESS'),
      ]
    : [listen(gateway.app, config.port, config.host, 'PORT', PUBLIC_TIMEOUTS)]
  const started = await Promise.allSettled(listeners.map((listener) => listener.ready))
  const failed = started.find((result) => result.status === 'rejected')
  if (failed) {
    showGeneratedToken()
    // allSettled: closing the one that never listened fails, and changes nothing.
    await Promise.allSettled(listeners.map((listener) => listener.server.close()))
    await gateway.close()
    await release()
    throw failed.reason
  }
  const servers = listeners.map((listener) => listener.server)
  if (config.allowInsecureIssuers) {
    logger.warn(
      'BACKCHANNEL_ALLOW_INSECURE_ISSUERS is on: http: and private addresses are allowed for issuers (development only)',
    )
  }
  const [url = '', managementUrl] = listeners.map((listener) => listener.url())
  logger.info({ url, managementUrl, storage: describeStorage(config), revoker: config.revoker }, 'listening')
  if (isGatewayWorker()) {
    // Under --workers the primary prints the banner, once every worker has said where it listens.
    process.send?.({ type: WORKER_LISTENING, url, managementUrl })
  } else {
    printBanner(url, config, admin.generated, managementUrl ? [managementLine(managementUrl)] : [])
  }

  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      logger.info('shutting down: no new requests, finishing the ones in flight')
      await Promise.all(servers.map((server) => server.close()))
      await gateway.close()
      await release()
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
  return { url, ...(managementUrl ? { managementUrl } : {}), stop }
}

/** The message a worker sends the primary once it listens (see workers.ts). */
export const WORKER_LISTENING = 'backchannel:listening'

/**
 * Limits of the public listener, in milliseconds: a logout or a SET is at most 64 KiB, sent by a
 * server, so a client still sending its headers after 10 s, or its request after 15 s, is holding
 * a connection rather than using it (Node's defaults allow 60 s and 300 s). Node checks them every
 * `connectionsCheckingInterval`.
 */
const PUBLIC_TIMEOUTS = { headersTimeout: 10_000, requestTimeout: 15_000, connectionsCheckingInterval: 1_000 }

/** The banner's line for the management listener. */
export const managementLine = (url: string) => `management (${MANAGEMENT_PATHS.join(', ')}) on ${url}`

/**
 * Starts one listener; `ready` rejects with a {@link ConfigError} naming `variable` when its port is
 * in use, and `url` is where to reach it once ready.
 */
function listen(app: H3, port: number, hostname: string, variable: string, timeouts = {}) {
  const server = serve(app, {
    port,
    hostname,
    silent: true,
    gracefulShutdown: false,
    // Not exclusive: under --workers, node:cluster shares the primary's one socket.
    node: { exclusive: false, ...timeouts },
  })
  const ready = server.ready().catch((err: NodeJS.ErrnoException) => {
    if (err?.code !== 'EADDRINUSE') throw err
    const hint = variable === 'PORT' ? 'another port with PORT=' : `another address with ${variable}=`
    throw new ConfigError(
      variable,
      `port ${port} on ${hostname} is already in use (EADDRINUSE): stop what listens there, or choose ${hint}`,
    )
  })
  // A wildcard address is where it listens, not where to point a browser.
  const url = () =>
    (server.url ?? `http://${hostname}:${port}/`)
      .replace(/\/$/, '')
      .replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//localhost')
  return { server, ready, url }
}

/**
 * Tells the person who started the gateway where it listens, on stderr; and, when this start
 * generated the admin token, the token itself, this once (it is kept only as a hash).
 */
export function printBanner(url: string, config: Config, generatedToken: string | undefined, extra: string[] = []) {
  const lines = [`Backchannel listening on ${url}`, `storage: ${describeStorage(config)}`, ...extra]
  if (config.revoker) lines.push(`sessions ended by the revoker plugin ${config.revoker}`)
  // One write: a reader that sees the first line sees the token too.
  process.stderr.write(`${[...lines, ...(generatedToken ? tokenLines(generatedToken) : [])].join('\n')}\n`)
}

/** Shows a generated admin token on stderr, this once (it is kept only as a hash). */
export function printGeneratedToken(token: string): void {
  process.stderr.write(`${tokenLines(token).join('\n')}\n`)
}

const tokenLines = (token: string) => [
  '',
  'Generated the admin token. It is shown this once and kept only as a hash; store it now:',
  `  BACKCHANNEL_ADMIN_TOKEN=${token}`,
  '',
]
