/** `keys.*`: the gateway's own signing keys, which sign the tokens it relays in `sign` mode (admin token only). */
import { z } from 'zod'
import { graceSeconds } from '../_internal/schemas.js'
import { adminAction, adminProcedure, router } from '../trpc.js'

/**
 * How long a rotated-out key stays published by default, in seconds: one day. Relayed tokens live
 * minutes, but a receiver may cache the key set for hours before it looks again.
 */
const DEFAULT_KEY_GRACE_SECONDS = 86_400

export const keysRouter = router({
  /** The published keys, newest first: public parts only. */
  list: adminProcedure.query(async ({ ctx }) =>
    (await ctx.deps.store.keys.list()).map(({ kid, alg, createdAt, state, retiresAt, publicJwk }) => ({
      kid,
      alg,
      createdAt,
      state,
      ...(retiresAt === undefined ? {} : { retiresAt }),
      publicJwk: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y },
    })),
  ),
  /** A new key signs from now; the others stay published for `graceSeconds` (default one day). */
  rotate: adminAction
    .input(
      z
        .object({
          graceSeconds: graceSeconds.optional(),
        })
        .strict()
        .optional(),
    )
    .mutation(async ({ ctx, input }) => {
      const kid = await ctx.deps.store.keys.rotate(input?.graceSeconds ?? DEFAULT_KEY_GRACE_SECONDS)
      ctx.deps.onKeysRotated?.()
      return { kid }
    }),
})
