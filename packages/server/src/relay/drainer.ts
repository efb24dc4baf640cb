/**
 * The relay drainer: a loop per gateway instance that takes due deliveries from the outbox by
 * lease, makes one attempt at each, and stores what became of it (delivered, pending with its
 * next attempt, or dead), with one audit record and one metric per outcome. It wakes at once for
 * a logout accepted here, and polls for rows written by other instances or coming due.
 * @module
 */
import type { RelayDelivery, RelayOutbox } from '@backchannel/core'
import type { AppRecord, RelayAttemptResult } from '@backchannel/unstorage'
import type { Logger } from 'pino'
import type { AuditRecorder } from '../audit.js'
import type { Metrics } from '../metrics.js'
import { type AttemptDelivery, messageOf, NOT_SENT, type PlanRetry } from './attempt.js'

/** Options of {@link createRelayDrainer}. */
export interface RelayDrainerOptions {
  outbox: RelayOutbox
  /** Where the drainer reads an application's relays and their secrets (the gateway's app cache). */
  apps: { get(name: string): Promise<AppRecord | undefined> }
  attempt: AttemptDelivery
  planRetry: PlanRetry
  audit: AuditRecorder
  metrics: Metrics
  logger: Logger
  /** The clock, seconds since epoch. */
  now: () => number
  /** Milliseconds between looks at the outbox for rows this instance was not told of. Default 1000. */
  pollMs?: number
  /** Seconds a taken delivery is this instance's alone (longer than an attempt's 5 s timeout). Default 30. */
  leaseSeconds?: number
  /**
   * Attempts in flight at once. Default 32: each waits mostly on the store's commits and the
   * receiver, not on this process's CPU.
   */
  concurrency?: number
}

/** Due deliveries taken in one pass. */
const BATCH = 100

/** A running drainer. */
export interface RelayDrainer {
  /** Drains now (after the pass in progress, if any); resolves when that pass has attempted what was due. */
  wake(): Promise<void>
  /** Stops the loop and waits for the attempts in flight, at most `timeoutMs` (default 6000). */
  close(timeoutMs?: number): Promise<void>
}

/**
 * Starts the drainer of one gateway instance.
 *
 * @example
 * ```ts
 * const drainer = createRelayDrainer({ outbox: store.outbox, apps: store.apps, attempt, planRetry, audit, metrics, logger, now })
 * await drainer.wake() // after a logout with relays
 * await drainer.close()
 * ```
 */
export function createRelayDrainer(options: RelayDrainerOptions): RelayDrainer {
  const { outbox, apps, attempt, planRetry, audit, metrics, logger, now } = options
  const pollMs = options.pollMs ?? 1000
  const leaseSeconds = options.leaseSeconds ?? 30
  const concurrency = options.concurrency ?? 32
  const inFlight = new Set<Promise<void>>()
  let closed = false
  let current: Promise<void> | undefined
  let queued: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined

  /**
   * What one try at `delivery` came to; `sent: false` when nothing was sent (dead before sending,
   * or no token for want of the application or its key). Never throws.
   */
  async function attemptOne(delivery: RelayDelivery): Promise<RelayAttemptResult> {
    const dead = (error: string) => ({ outcome: 'dead' as const, error, sent: false as const })
    let app: AppRecord | undefined
    try {
      app = await apps.get(delivery.app)
    } catch (err) {
      // E.g. a relay secret that cannot be unsealed: no token can be minted, nothing is sent.
      return { outcome: 'retry', error: `the application could not be read: ${messageOf(err)}`, sent: false }
    }
    if (!app) return dead('the application was deleted')
    if (!app.relays?.some((r) => r.url === delivery.url && r.mode === delivery.mode)) {
      return dead('the relay was removed from the application')
    }
    const secret = app.relaySecrets?.[delivery.url]
    if (delivery.mode === 'hmac' && !secret) return dead('the hmac relay has no secret')
    try {
      return await attempt(delivery, secret)
    } catch (err) {
      return { outcome: 'retry', error: messageOf(err) }
    }
  }

  async function deliver(id: string): Promise<void> {
    const taken = await outbox.take(id, leaseSeconds)
    if (!taken) return
    const result = await attemptOne(taken)
    const t = now()
    const unsent = result.outcome !== 'delivered' && result.sent === false
    const tried: RelayDelivery = {
      ...taken,
      attempts: taken.attempts + (unsent ? 0 : 1),
      // Tries that sent nothing back off as attempts do, without spending the attempt budget.
      unsentTries: unsent ? (taken.unsentTries ?? 0) + 1 : undefined,
      lastStatus: result.status,
      lastError: result.outcome === 'delivered' ? undefined : result.error,
    }
    const plan: ReturnType<PlanRetry> | { state: 'delivered' } =
      result.outcome === 'delivered' ? { state: 'delivered' } : planRetry(tried, result, t)
    const settled: RelayDelivery =
      plan.state === 'pending'
        ? { ...tried, state: 'pending', nextAttemptAt: plan.nextAttemptAt }
        : {
            ...tried,
            state: plan.state,
            nextAttemptAt: undefined,
            ...(plan.state === 'delivered' ? { deliveredAt: t } : {}),
          }
    // JSON drops the `undefined`s; a row keeps no stale status, error or next attempt.
    await outbox.settle(JSON.parse(JSON.stringify(settled)) as RelayDelivery)
    const outcome = plan.state === 'pending' ? 'retry' : plan.state
    metrics.relayDeliveries.inc({ app: taken.app, outcome })
    audit.record({
      app: taken.app,
      source: 'relay',
      outcome,
      delivery: taken.id,
      url: taken.url,
      attempts: settled.attempts,
      ...(result.status === undefined ? {} : { status: result.status }),
      ...(unsent ? { code: NOT_SENT } : {}),
      ...(taken.logout.iss ? { iss: taken.logout.iss } : {}),
      ...(taken.logout.sid === undefined ? {} : { sid: taken.logout.sid }),
      ...(taken.logout.sub === undefined ? {} : { sub: taken.logout.sub }),
    })
    const line = {
      app: taken.app,
      delivery: taken.id,
      url: taken.url,
      attempts: settled.attempts,
      status: result.status,
    }
    if (outcome === 'delivered') logger.info(line, 'relay delivered')
    else {
      const reason = { outcome, reason: settled.lastError }
      logger.warn(Object.assign(line, reason), unsent ? 'relay not sent (no attempt spent)' : 'relay not delivered')
    }
  }

  /** One batch of due deliveries; `true` when it was full (more are likely due now). */
  async function pass(): Promise<boolean> {
    const { due, count, oldestCreatedAt } = await outbox.pending(BATCH)
    metrics.relayPending.set(count)
    metrics.relayOldestPending.set(oldestCreatedAt === undefined ? 0 : Math.max(0, now() - oldestCreatedAt))
    const queue = due.map((d) => d.id)
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !closed; id = queue.shift()) {
        const attempt = deliver(id).catch((err: unknown) => {
          // The lease lapses and another pass (here or elsewhere) tries again.
          logger.error({ err, delivery: id }, 'a relay delivery could not be settled')
        })
        inFlight.add(attempt)
        await attempt
        inFlight.delete(attempt)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker))
    return due.length === BATCH
  }

  const safePass = () =>
    pass().catch((err: unknown) => {
      logger.warn({ err }, 'the relay outbox could not be read; trying again')
      return false
    })

  function wake(): Promise<void> {
    if (closed) return Promise.resolve()
    if (!current) {
      current = safePass().then((full) => {
        current = undefined
        // A full batch leaves more due now: the next one starts at once, not at the next poll.
        if (full && !closed) void wake()
      })
      return current
    }
    queued ??= current.then(() => {
      queued = undefined
      return wake()
    })
    return queued
  }

  const tick = () => {
    wake().finally(() => {
      if (!closed) timer = setTimeout(tick, pollMs).unref()
    })
  }
  tick()

  return {
    wake,
    async close(timeoutMs = 6000) {
      closed = true
      clearTimeout(timer)
      let timeout: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all([...inFlight, current]),
        new Promise((resolve) => {
          timeout = setTimeout(resolve, timeoutMs)
        }),
      ])
      clearTimeout(timeout)
    },
  }
}
