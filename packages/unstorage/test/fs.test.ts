import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing'
import { describe, expect, it } from 'vitest'
import { fsStore } from '../src/presets/fs.js'
import { describeStoreExtras } from './store-suite.js'

const factory = async (clock: { now: () => number }) => {
  const base = await mkdtemp(join(tmpdir(), 'backchannel-fs-'))
  const store = await fsStore({ base, now: clock.now })
  return {
    store,
    cleanup: async () => {
      await store.close()
      await rm(base, { recursive: true, force: true })
    },
  }
}
describeSessionStore('fs preset', factory)
describeReplayStore('fs preset', factory)
describeStoreExtras('fs preset', factory)

describe('fs preset: the data folder', () => {
  it('generates a master key once, mode 0600, and keeps sessions and claims across a restart', async () => {
    const base = await mkdtemp(join(tmpdir(), 'backchannel-fs-'))
    try {
      const first = await fsStore({ base })
      await first.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u', sid: 'x' })
      expect(await first.claim('jti-1', Date.now() / 1000 + 60)).toBe(true)
      await first.close()
      const key = await readFile(join(base, 'master.key'), 'utf8')
      expect((await stat(join(base, 'master.key'))).mode & 0o777).toBe(0o600)

      const second = await fsStore({ base })
      expect(await readFile(join(base, 'master.key'), 'utf8')).toBe(key)
      expect(await second.status('a', 's')).toEqual({ state: 'active' })
      expect(await second.claim('jti-1', Date.now() / 1000 + 60)).toBe(false)
      await second.close()
    } finally {
      await rm(base, { recursive: true, force: true })
    }
  })

  it('sweeps expired sessions and their index entries off the disk', async () => {
    const base = await mkdtemp(join(tmpdir(), 'backchannel-fs-'))
    let t = 1_800_000_000
    const store = await fsStore({ base, now: () => t, sweepInterval: 0.05 })
    try {
      await store.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u', sid: 'x', expiresAt: t + 60 })
      const files = async () =>
        (await readdir(base, { recursive: true, withFileTypes: true })).filter((f) => f.isFile())
      const before = (await files()).length
      t += 61
      await expect.poll(async () => (await files()).length, { timeout: 5000 }).toBe(before - 3) // record, 2 index entries
      expect((await files()).map((f) => f.name)).toEqual(['master.key'])
    } finally {
      await store.close()
      await rm(base, { recursive: true, force: true })
    }
  })

  it('names no file after a claim value', async () => {
    const base = await mkdtemp(join(tmpdir(), 'backchannel-fs-'))
    try {
      const store = await fsStore({ base })
      await store.register({ app: 'a', iss: 'https://id/x', sessionId: 'secret-session', sub: 'alice@example.com' })
      const names = (await readdir(base, { recursive: true })).join('\n')
      expect(names).not.toMatch(/alice|secret-session|https/)
      await store.close()
    } finally {
      await rm(base, { recursive: true, force: true })
    }
  })
})
