/**
 * `@backchannel/server`: the runnable gateway — `createGateway` (an h3 app), `runServer`, the
 * configuration, and `defineRevokerPlugin` for `backchannel serve --revoker`. The CLI is
 * `backchannel`. HMAC integrators sign logout tokens with `@backchannel/core/mint`, without
 * installing this package.
 * @module
 */
export type { Config, ConfigFile, ConfigOverrides, Setting, StorageConfig } from './config.js'
export { ConfigError, loadConfig } from './config.js'
export type { ReadConfigFileOptions } from './config-file.js'
export { readConfigFile } from './config-file.js'
export type { Gateway, GatewayOptions, Listener, RelayOptions } from './gateway.js'
export { createGateway, MANAGEMENT_PATHS } from './gateway.js'
export { createLogger } from './logger.js'
export type { Metrics } from './metrics.js'
export { createMetrics } from './metrics.js'
export type { FailureLimits } from './rate-limit.js'
export type { AttemptDelivery, PlanRetry } from './relay/attempt.js'
export type { GatewaySigner, JsonWebKeySet } from './relay/signer.js'
export type {
  RevokerPlugin,
  RevokerPluginContext,
  RevokerPluginFactory,
} from './revoker-plugin.js'
export { defineRevokerPlugin } from './revoker-plugin.js'
export type { RunningServer } from './serve.js'
export { runServer } from './serve.js'
export type { StreamPollingOptions } from './ssf/poller.js'
export { pollBackoff } from './ssf/poller.js'
export { openStore } from './storage.js'
