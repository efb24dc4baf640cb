/** Prometheus metrics of the gateway, in a registry of its own. */
import { readFileSync } from 'node:fs'
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { isGatewayWorker } from './config.js'

/** This package's version (src/ and dist/ both sit one folder below package.json). */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version

/** Asked by a worker of the primary for `/metrics`; answered with every worker's metrics added up. */
export const METRICS_REQUEST = 'backchannel:metrics'

/** The gateway's Prometheus instruments, in a registry of their own (`metrics.registry.metrics()`). */
export function createMetrics() {
  const registry = new Registry()
  // Node's own metrics under their standard names (process_cpu_seconds_total, nodejs_*): stock dashboards read those.
  collectDefaultMetrics({ register: registry })
  const buildInfo = new Gauge({
    name: 'backchannel_build_info',
    help: 'Always 1; the version of the gateway is its label',
    labelNames: ['version'] as const,
    // Under --workers each worker reports it: the primary keeps one value rather than their sum.
    aggregator: 'first',
    registers: [registry],
  })
  buildInfo.set({ version: VERSION }, 1)
  return {
    registry,
    /** The Prometheus text of `/metrics`: of the whole gateway when it runs several workers. */
    text: isGatewayWorker() ? clusterMetrics(registry) : () => registry.metrics(),
    logouts: new Counter({
      name: 'backchannel_logout_requests_total',
      help: 'Back-channel logout requests by application, HTTP status and error code ("" on success)',
      labelNames: ['app', 'status', 'code'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'backchannel_logout_duration_seconds',
      help: 'Time to answer a back-channel logout request',
      labelNames: ['status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    revoked: new Counter({
      name: 'backchannel_sessions_revoked_total',
      help: 'Sessions ended by logouts, by application',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    jwksFetches: new Counter({
      name: 'backchannel_jwks_fetches_total',
      help: "HTTP fetches of identity providers' key sets, by result",
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    relayDeliveries: new Counter({
      name: 'backchannel_relay_deliveries_total',
      help: 'Relay delivery attempts by application and outcome (delivered, retry, dead)',
      labelNames: ['app', 'outcome'] as const,
      registers: [registry],
    }),
    relayPending: new Gauge({
      name: 'backchannel_relay_pending',
      help: 'Relay deliveries waiting for an attempt, in the whole outbox (as this instance last read it)',
      // Every instance reads the same shared outbox: the largest reading, not their sum.
      aggregator: 'max',
      registers: [registry],
    }),
    relayOldestPending: new Gauge({
      name: 'backchannel_relay_oldest_pending_seconds',
      help: 'Age of the oldest pending relay delivery (0 when none is pending)',
      aggregator: 'max',
      registers: [registry],
    }),
    ssfEvents: new Counter({
      name: 'backchannel_ssf_events_total',
      help: 'Security Event Tokens pushed to or polled from streams, by stream, event (short name, "other") and outcome (revoked, unmatched, ignored, replayed, applied, rejected, failed)',
      labelNames: ['stream', 'event', 'outcome'] as const,
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'backchannel_store_errors_total',
      help: 'Requests that failed because the store could not be reached',
      registers: [registry],
    }),
  }
}

/** What {@link createMetrics} returns. */
export type Metrics = ReturnType<typeof createMetrics>

/**
 * Under `--workers`, answers the primary's requests for this worker's metrics from now on (with
 * none until {@link createMetrics} runs): a worker still opening its store would otherwise leave
 * every `/metrics` of the gateway waiting for it until prom-client's 5 s timeout, then failing.
 */
export function answerMetricsRequests(): void {
  AggregatorRegistry.setRegistries([])
  new AggregatorRegistry()
}

/**
 * The Prometheus text of the whole gateway, asked of the primary by a worker. Each worker
 * answers with its own registry (`registry`), and the primary adds them up.
 */
function clusterMetrics(registry: Registry): () => Promise<string> {
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
