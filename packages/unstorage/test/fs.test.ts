import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fsStore } from '../src/presets/fs.js'
import { describeStoreExtras } from './store-suite.js'

const here = dirname(fileURLToPath(import.meta.url))

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
  let base: string
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'backchannel-fs-'))
  })
  afterEach(() => rm(base, { recursive: true, force: true }))

  it('generates a master key once, keeps it and the journal mode 0600, and keeps sessions and claims across a restart', async () => {
    const first = await fsStore({ base })
    await first.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u', sid: 'x' })
    expect(await first.claim('jti-1', Date.now() / 1000 + 60)).toBe(true)
    await first.close()
    const key = await readFile(join(base, 'master.key'), 'utf8')
    expect((await stat(join(base, 'master.key'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(base, 'journal'))).mode & 0o777).toBe(0o600)

    const second = await fsStore({ base })
    expect(await readFile(join(base, 'master.key'), 'utf8')).toBe(key)
    expect(await second.status('a', 's')).toEqual({ state: 'active' })
    expect(await second.claim('jti-1', Date.now() / 1000 + 60)).toBe(false)
    await second.close()
  })

  it('keeps revocations, applications and the audit log across a restart, and forgets what expired', async () => {
    let t = 1_800_000_000
    const first = await fsStore({ base, now: () => t })
    await first.register({ app: 'a', iss: 'i', sessionId: 'kept', sub: 'u', sid: 'x' })
    await first.register({ app: 'a', iss: 'i', sessionId: 'short', sub: 'v', expiresAt: t + 60 })
    await first.revoke({ app: 'a', iss: 'i', sid: 'x', scope: 'session', issuedAt: t })
    await first.audit.record({ app: 'a', source: 'backchannel', outcome: 'revoked', revoked: 1 })
    await first.close()

    t += 61
    const second = await fsStore({ base, now: () => t })
    expect(await second.status('a', 'kept')).toEqual({ state: 'revoked', revokedAt: 1_800_000_000 })
    expect(await second.status('a', 'short')).toEqual({ state: 'unknown' })
    expect(await second.list('a', 'i', 'v')).toEqual([])
    expect((await second.audit.list({ app: 'a' })).map((r) => r.outcome)).toEqual(['revoked'])
    await second.close()
  })

  it('serves one process at a time, and takes over a lock whose process is gone', async () => {
    const first = await fsStore({ base })
    await expect(fsStore({ base })).rejects.toThrow(/in use by process \d+ \(this one\).*Redis or MongoDB/)
    await first.close()

    // A pid that cannot be alive (beyond Linux's pid_max), as a crashed process leaves behind.
    await writeFile(join(base, 'lock'), '4194305\n')
    const second = await fsStore({ base })
    expect(await readFile(join(base, 'lock'), 'utf8')).toBe(`${process.pid}\n`)
    await second.close()
    expect(await readdir(base)).not.toContain('lock')
  })

  /** Runs fixtures/fs-writer.js on `base`; it kills itself after acknowledging `count` writes. */
  async function killedAfter(count: number, mode = 'registrations') {
    const child = spawn(process.execPath, [join(here, 'fixtures/fs-writer.js'), base, String(count), mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const signal = await new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
    expect(signal).toBe('SIGKILL')
    const acknowledged = output.split('\n').filter(Boolean)
    expect(acknowledged).toHaveLength(count)
    return acknowledged
  }

  it('loses no acknowledged write when the process is killed mid-stream', async () => {
    // A child registers sessions as fast as it can and prints each id once acknowledged.
    const acknowledged = await killedAfter(2_000)
    const store = await fsStore({ base })
    const states = await Promise.all(acknowledged.map((id) => store.status('a', id)))
    expect(states.filter((s) => s.state !== 'active')).toEqual([])
    await store.close()
  })

  it('keeps every acknowledged claim-and-revoke whole when the process is killed mid-stream', async () => {
    // A child registers sessions and logs each out at once, printing each id once acknowledged.
    const acknowledged = await killedAfter(1_000, 'logouts')
    const store = await fsStore({ base })
    const now = Date.now() / 1000
    const target = (id: string) => ({ app: 'a', iss: 'i', sid: `x${id}`, scope: 'session' as const, issuedAt: now })
    for (const id of acknowledged) {
      expect(await store.status('a', id)).toMatchObject({ state: 'revoked' })
      expect(await store.claim(`jti-${id}`, now + 600)).toBe(false)
    }
    // Past the last acknowledged one, whatever the kill left: a logout is recorded exactly when its
    // session is revoked, so that a claim left without its revocation is processed on the retry.
    const last = Math.max(...acknowledged.map((id) => Number(id.slice(1))))
    for (let i = last + 1; i <= last + 100; i++) {
      const { state } = await store.status('a', `s${i}`)
      expect(await store.recorded?.(target(`s${i}`))).toBe(state === 'revoked')
    }
    await store.close()
  })

  it('names no file after a claim value', async () => {
    const store = await fsStore({ base })
    await store.register({ app: 'a', iss: 'https://id/x', sessionId: 'secret-session', sub: 'alice@example.com' })
    const names = (await readdir(base, { recursive: true })).join('\n')
    expect(names).not.toMatch(/alice|secret-session|https/)
    await store.close()
  })
})
