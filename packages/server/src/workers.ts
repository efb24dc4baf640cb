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
import { managementLine, printBanner, printGeneratedToken, WORKER_LISTENING } from './serve.js'
import { openStore } from './storage.js'

/** A worker that dies sooner than this after starting died quickly: its replacement waits. */
const QUICK_DEATH_MS = 5000
/** Quick deaths in a row after which the primary gives up and exits 1, so that its supervisor sees it. */
const QUICK_DEATHS_TO_GIVE_UP = 5

/** Sends `message` unless the worker is gone (a send to a closed channel would crash the primary). */
function tell(worker: Worker, message: unknown): void {
  if (worker.isConnected()) worker.send(message as object, () => {})
}

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
      (text) => tell(worker, { type: METRICS_REQUEST, id: message.id, text }),
      (err: Error) => tell(worker, { type: METRICS_REQUEST, id: message.id, error: err.message }),
    )
  })

  let stopping = false
  const replacing = new Set<NodeJS.Timeout>()
  const stop = (code: number) => {
    if (stopping) return
    stopping = true
    for (const timer of replacing) clearTimeout(timer)
    logger.info('shutting down: every worker finishes its requests in flight')
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isDead() === false)
    // A worker that could not drain (it exited non-zero, or a signal ended it) makes the exit 1.
    const exited = workers.map(
      (worker) => new Promise<boolean>((resolve) => worker.once('exit', (c, signal) => resolve(c === 0 && !signal))),
    )
    for (const worker of workers) worker.process.kill('SIGTERM')
    Promise.all(exited).then((clean) => {
      logger.info('stopped')
      logger.flush()
      process.exit(clean.every(Boolean) ? code : 1)
    })
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop(0))

  const startedAt = new Map<Worker, number>()
  const fork = () => startedAt.set(cluster.fork({ BACKCHANNEL_WORKER: '1' }), Date.now())
  let quickDeaths = 0
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0)
    startedAt.delete(worker)
    if (stopping) return
    if (url === undefined) {
      // It could not start (it said why on stderr): another would fail the same way.
      logger.error({ worker: worker.process.pid, code, signal }, 'a worker failed to start')
      if (admin.generated) printGeneratedToken(admin.generated)
      return stop(1)
    }
    quickDeaths = lived < QUICK_DEATH_MS ? quickDeaths + 1 : 0
    if (quickDeaths >= QUICK_DEATHS_TO_GIVE_UP) {
      logger.error({ worker: worker.process.pid, code, signal, quickDeaths }, 'workers keep dying at start; giving up')
      return stop(1)
    }
    // Quick deaths in a row wait longer each time: 1, 2, 4, 8 s.
    const wait = quickDeaths === 0 ? 0 : 1000 * 2 ** (quickDeaths - 1)
    logger.error({ worker: worker.process.pid, code, signal, retryInMs: wait }, 'a worker died; starting another')
    const timer = setTimeout(() => {
      replacing.delete(timer)
      fork()
    }, wait)
    replacing.add(timer)
  })
  for (let i = 0; i < config.workers; i++) fork()
}
