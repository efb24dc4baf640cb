/**
 * `@backchannel/server`: the runnable gateway — `createGateway` (an h3 app), `runServer` and the
 * configuration. The CLI is `backchannel`. HMAC integrators sign logout tokens with
 * `@backchannel/core/mint`, without installing this package.
 * @module
 */
export type { Config, ConfigOverrides, StorageConfig } from './config.js'
export { ConfigError, loadConfig } from './config.js'
export type { Gateway, GatewayOptions, RelayOptions } from './gateway.js'
export { createGateway } from './gateway.js'
export { createLogger } from './logger.js'
export type { Metrics } from './metrics.js'
export { createMetrics } from './metrics.js'
export type { FailureLimits } from './rate-limit.js'
export type { AttemptDelivery, PlanRetry } from './relay/drainer.js'
export type { RunningServer } from './serve.js'
export { runServer } from './serve.js'
export { openStore } from './storage.js'
