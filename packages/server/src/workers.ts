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
import { METRICS_REQUEST } from './metrics.js'
import { managementLine, printBanner, WORKER_LISTENING } from './serve.js'
import { openStore } from './storage.js'

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
  // The gateway is up once every first worker listens (a replacement later changes nothing here).
  let url: string | undefined
  let listening = 0
  cluster.on('message', (worker, message: { type?: string; id?: number; url?: string; managementUrl?: string }) => {
    if (message?.type === WORKER_LISTENING && url === undefined && ++listening === config.workers) {
      url = message.url ?? ''
      const extra = message.managementUrl ? [managementLine(message.managementUrl)] : []
      printBanner(url, config, admin.generated, [...extra, `workers: ${config.workers}`])
      logger.info({ url, managementUrl: message.managementUrl, workers: config.workers }, 'primary running')
    }
    if (message?.type !== METRICS_REQUEST) return
    metrics.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REQUEST, id: message.id, text }),
      (err: Error) => worker.send({ type: METRICS_REQUEST, id: message.id, error: err.message }),
    )
  })

  let stopping = false
  const stop = (code: number) => {
    if (stopping) return
    stopping = true
    logger.info('shutting down: every worker finishes its requests in flight')
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isDead() === false)
    const exited = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)))
    for (const worker of workers) worker.process.kill('SIGTERM')
    Promise.all(exited).then(() => {
      logger.info('stopped')
      logger.flush()
      process.exit(code)
    })
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop(0))

  const startedAt = new Map<Worker, number>()
  const fork = () => startedAt.set(cluster.fork({ BACKCHANNEL_WORKER: '1' }), Date.now())
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0)
    startedAt.delete(worker)
    if (stopping) return
    if (url === undefined) {
      // It could not start (it said why on stderr): another would fail the same way.
      logger.error({ worker: worker.process.pid, code, signal }, 'a worker failed to start')
      return stop(1)
    }
    logger.error({ worker: worker.process.pid, code, signal }, 'a worker died; starting another')
    setTimeout(fork, lived < QUICK_DEATH_MS ? 1000 : 0)
  })
  for (let i = 0; i < config.workers; i++) fork()
}
