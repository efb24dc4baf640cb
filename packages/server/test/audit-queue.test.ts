import type { AuditLog } from '@backchannel/unstorage'
import { memoryStore } from '@backchannel/unstorage/memory'
import type { Logger } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { createAuditQueue } from '../src/audit-queue.js'

const at = 1_800_000_000
const silent = { error: () => {} } as unknown as Logger
const entry = (revoked: number) => ({
  app: 'wiki',
  source: 'backchannel' as const,
  outcome: 'revoked' as const,
  revoked,
})

describe("the logouts' audit queue", () => {
  it('writes records queued in separate turns of the event loop in one append, stamped when queued', async () => {
    const store = memoryStore()
    const append = store.backend.append
    let appends = 0
    store.backend.append = (...args) => {
      appends++
      return append.apply(store.backend, args)
    }
    const queue = createAuditQueue(store.audit, silent, () => at)
    for (let i = 0; i < 3; i++) {
      queue.add(entry(i))
      await new Promise((resolve) => setImmediate(resolve))
    }
    await vi.waitFor(() => expect(appends).toBe(1))
    await queue.close()
    expect(appends).toBe(1)
    const records = await store.audit.list({ app: 'wiki' })
    expect(records.map((r) => [r.revoked, r.at])).toEqual([
      [2, at],
      [1, at],
      [0, at],
    ])
  })

  it('writes what is waiting when closed, and resolves once it is written', async () => {
    const store = memoryStore()
    const queue = createAuditQueue(store.audit, silent, () => at)
    queue.add(entry(7))
    await queue.close()
    expect((await store.audit.list()).map((r) => r.revoked)).toEqual([7])
  })

  it('logs a record the store could not write as lost', async () => {
    const failing = { record: () => Promise.reject(new Error('ECONNREFUSED')) } as unknown as AuditLog
    const error = vi.fn()
    const queue = createAuditQueue(failing, { error } as unknown as Logger, () => at)
    queue.add(entry(1))
    await queue.close()
    expect(error).toHaveBeenCalledWith({ app: 'wiki', err: new Error('ECONNREFUSED') }, 'audit record lost')
  })
})
