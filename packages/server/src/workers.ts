/**
 * `backchannel serve --workers N`: N gateway processes on one port (node:cluster), over one
 * shared store. The primary serves nothing itself: it settles the admin token once, starts the
 * workers, replaces one that dies, gathers their metrics for `/metrics`, and on SIGTERM/SIGINT
 * lets every worker drain before it exits.
 * @module
 */
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import { resolveAdminToken } from './admin-token.js'
import type { Config } from './config.js'
import { createLogger } from './logger.js'
import { describeStorage, openStore } from './storage.js'

/** Asked by a worker for `/metrics`; answered with every worker's metrics added up. */
const METRICS_REQUEST = 'backchannel:metrics'

/** A worker that dies sooner than this after starting waits before it is replaced (no crash loop). */
const QUICK_DEATH_MS = 5000

/**
 * Runs the primary of a gateway with `config.workers` processes, until SIGTERM or SIGINT.
 * Call it in the primary only (`cluster.isPrimary`); workers run `runServer`.
 */
export async function runPrimary(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel)
  // Settle the admin token before any worker starts, so it is generated (and printed) once.
  const store = await openStore(config)
  const admin = await resolveAdminToken(store, config.adminToken).finally(() => store.close())

  const metrics = new AggregatorRegistry()
  cluster.on('message', (worker, message: { type?: string; id?: number }) => {
    if (message?.type !== METRICS_REQUEST) return
    metrics.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REQUEST, id: message.id, text }),
      (err: Error) => worker.send({ type: METRICS_REQUEST, id: message.id, error: err.message }),
    )
  })

  let stopping = false
  const startedAt = new Map<Worker, number>()
  const fork = () => startedAt.set(cluster.fork({ BACKCHANNEL_WORKER: '1' }), Date.now())
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0)
    startedAt.delete(worker)
    if (stopping) return
    logger.error({ worker: worker.process.pid, code, signal }, 'a worker died; starting another')
    setTimeout(fork, lived < QUICK_DEATH_MS ? 1000 : 0)
  })

  const listening = new Promise<string>((resolve) =>
    cluster.on('listening', (_worker, address) =>
      resolve(
        `http://${address.address === '0.0.0.0' || !address.address ? 'localhost' : address.address}:${address.port}`,
      ),
    ),
  )
  for (let i = 0; i < config.workers; i++) fork()
  const url = await listening
  const lines = [`Backchannel listening on ${url}`, `storage: ${describeStorage(config)}`, `workers: ${config.workers}`]
  if (admin.generated) {
    lines.push(
      '',
      'Generated the admin token. It is shown this once and kept only as a hash; store it now:',
      `  BACKCHANNEL_ADMIN_TOKEN=${admin.generated}`,
      '',
    )
  }
  process.stderr.write(`${lines.join('\n')}\n`)
  logger.info({ url, workers: config.workers }, 'primary running')

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stopping = true
      logger.info('shutting down: every worker finishes its requests in flight')
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined)
      Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              worker.once('exit', () => resolve())
              worker.process.kill('SIGTERM')
            }),
        ),
      ).then(() => {
        logger.info('stopped')
        logger.flush()
        process.exit(0)
      })
    })
  }
}

/** Whether this process is a worker started by {@link runPrimary}. */
export const isGatewayWorker = () => cluster.isWorker && process.env.BACKCHANNEL_WORKER === '1'

/**
 * The Prometheus text of the whole gateway, asked of the primary by a worker. Each worker
 * answers with its own registry (`registry`), and the primary adds them up.
 */
export function clusterMetrics(registry: import('prom-client').Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry])
  new AggregatorRegistry() // listens for the primary's requests for this worker's metrics
  let next = 0
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>()
  process.on('message', (message: { type?: string; id?: number; text?: string; error?: string }) => {
    if (message?.type !== METRICS_REQUEST || message.id === undefined) return
    const request = waiting.get(message.id)
    waiting.delete(message.id)
    if (message.error !== undefined) request?.reject(new Error(message.error))
    else request?.resolve(message.text ?? '')
  })
  return () =>
    new Promise((resolve, reject) => {
      const id = next++
      waiting.set(id, { resolve, reject })
      process.send?.({ type: METRICS_REQUEST, id })
    })
}
