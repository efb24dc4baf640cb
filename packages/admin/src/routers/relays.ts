/**
 * `relays.*`: the relay deliveries of the outbox. `list` and `retry` reach an owner's own
 * application (`app` set to it, or a delivery of it); `discard` needs the admin token.
 */
import { isDeliveryId, type RelayDelivery } from '@backchannel/unstorage'
import { z } from 'zod'
import { wholeSeconds } from '../_internal/public-records.js'
import { appName } from '../_internal/schemas.js'
import { adminAction, ownerAction, ownerProcedure, router } from '../trpc.js'

/**
 * A delivery as `relays.list` shows it: never the token it carries (`logout`) nor the relay's
 * audience; times in whole seconds since epoch.
 */
export type PublicDelivery = Omit<RelayDelivery, 'logout' | 'clientId'>

function publicDelivery(d: RelayDelivery): PublicDelivery {
  return {
    id: d.id,
    app: d.app,
    url: d.url,
    mode: d.mode,
    state: d.state,
    attempts: d.attempts,
    ...(d.lastStatus === undefined ? {} : { lastStatus: d.lastStatus }),
    ...(d.lastError === undefined ? {} : { lastError: d.lastError }),
    ...(d.state !== 'pending' || d.nextAttemptAt === undefined ? {} : { nextAttemptAt: wholeSeconds(d.nextAttemptAt) }),
    createdAt: wholeSeconds(d.createdAt),
    ...(d.deliveredAt === undefined ? {} : { deliveredAt: wholeSeconds(d.deliveredAt) }),
  }
}

const deliveryId = z.string().refine(isDeliveryId, 'must be a delivery id from relays.list')
const state = z.enum(['pending', 'delivered', 'dead'])

/** Dead letters of one application retried per call, at most. */
const RETRY_BATCH = 500

export const relaysRouter = router({
  list: ownerProcedure
    .input(
      z
        .object({
          app: appName.optional(),
          state: state.optional(),
          limit: z.number().int().min(1).max(500).optional(),
          before: deliveryId.optional(),
        })
        .strict()
        .optional(),
    )
    .query(async ({ ctx, input = {} }) => (await ctx.deps.store.outbox.list(input)).map(publicDelivery)),

  /** `{ id }`: one delivery (an owner's unknown id is FORBIDDEN, as another's is); `{ app, state: "dead" }`: its dead letters. */
  retry: ownerAction
    .input(
      z.union([z.object({ id: deliveryId }).strict(), z.object({ app: appName, state: z.literal('dead') }).strict()]),
    )
    .mutation(async ({ ctx, input }) => {
      const { outbox } = ctx.deps.store
      if ('id' in input) {
        // ownerProcedure already refused an owner an id that is not its application's, or unknown.
        const delivery = await outbox.get(input.id)
        if (!delivery) return { retried: 0 }
        Object.assign(ctx.audit, { app: delivery.app, delivery: input.id })
        return { retried: (await outbox.retry(input.id)) ? 1 : 0 }
      }
      let retried = 0
      for (const d of await outbox.list({ app: input.app, state: 'dead', limit: RETRY_BATCH })) {
        if (await outbox.retry(d.id)) retried++
      }
      return { retried }
    }),

  discard: adminAction.input(z.object({ id: deliveryId }).strict()).mutation(async ({ ctx, input }) => {
    const delivery = await ctx.deps.store.outbox.get(input.id)
    if (delivery) Object.assign(ctx.audit, { app: delivery.app, delivery: input.id })
    return { discarded: await ctx.deps.store.outbox.discard(input.id) }
  }),
})
