import { constants, readlinkSync } from 'node:fs'
import { appendFile, open as fsOpen, mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Journal, type JournalOptions, openJournal } from '../src/_internal/journal.js'
import { createLocalBackend } from '../src/_internal/local-backend.js'
import { createLocalState, SWEEP_SLICE } from '../src/_internal/local-state.js'

const now = () => 1_800_000_000
let dir: string
let path: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backchannel-journal-'))
  path = join(dir, 'journal')
})
afterEach(() => rm(dir, { recursive: true, force: true }))

/** A backend over a journal at `path`, and what reopening that journal finds. */
async function open(options: JournalOptions = {}) {
  const state = createLocalState(now)
  const journal = await openJournal(path, state, options)
  return { state, journal, backend: createLocalBackend(state, { now, journal }) }
}
const lineCount = async () => (await readFile(path, 'utf8')).split('\n').filter(Boolean).length

/** How this process has the journal open, from /proc (Linux): one entry per open descriptor. */
async function journalFlags() {
  const found = []
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) !== path) continue
    const flags = Number.parseInt(
      /^flags:\s+(\d+)/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '',
      8,
    )
    found.push({ dsync: (flags & constants.O_DSYNC) !== 0, append: (flags & constants.O_APPEND) !== 0 })
  }
  return found
}

describe('the fs journal', () => {
  it('replays records, sets, claims and logs in the order they were written', async () => {
    const first = await open()
    await first.backend.storage.setItem('k', { v: 1 })
    await first.backend.storage.setItem('k', { v: 2 })
    await first.backend.storage.setItem('gone', { v: 3 })
    await first.backend.storage.removeItem('gone')
    await first.backend.addMember('set', 'm1', now() + 60)
    await first.backend.addMember('set', 'm2', now() + 60)
    await first.backend.removeMembers('set', ['m1'])
    await first.backend.claim('c', now() + 60, now())
    await first.backend.append([{ log: 'log', id: 'id1', entry: '{"id":"id1"}' }], 10)
    await first.backend.dispose()

    const second = await open()
    expect(await second.backend.storage.getItem('k')).toEqual({ v: 2 })
    expect(await second.backend.storage.hasItem('gone')).toBe(false)
    expect(await second.backend.members('set')).toEqual(['m2'])
    expect(await second.backend.claim('c', now() + 60, now())).toBe(false)
    expect(await second.backend.read('log', 10)).toEqual(['{"id":"id1"}'])
    await second.backend.dispose()
  })

  it('skips a line torn by a crash and starts the next write on a line of its own', async () => {
    const first = await open()
    await first.backend.storage.setItem('k', { v: 1 })
    await first.backend.dispose()
    await appendFile(path, '["s","torn","{\\"v\\"')

    const second = await open()
    expect(await second.backend.storage.hasItem('torn')).toBe(false)
    await second.backend.storage.setItem('after', { v: 2 })
    await second.backend.dispose()

    const third = await open()
    expect(await third.backend.storage.getItem('k')).toEqual({ v: 1 })
    expect(await third.backend.storage.getItem('after')).toEqual({ v: 2 })
    await third.backend.dispose()
  })

  it('keeps every write made while it rewrites itself, exactly once', async () => {
    const first = await open()
    // 2,000 writes to 10 keys and 2,000 log appends, arriving in waves while a rewrite runs.
    const writes: Promise<unknown>[] = []
    let rewrite: Promise<void> | undefined
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 100; i++) {
        writes.push(first.backend.storage.setItem(`k${i % 10}`, { wave, i }))
        writes.push(
          first.backend.append([{ log: 'log', id: `id${wave * 100 + i}`, entry: `{"id":"${wave * 100 + i}"}` }], 5000),
        )
      }
      if (wave === 5) rewrite = first.journal.rewrite()
      // The next wave arrives while this one (and the rewrite) is on its way to the file.
      await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all([...writes, rewrite])
    await first.backend.dispose()
    // 4,000 lines written; the rewrite dropped the record writes superseded before it.
    expect(await lineCount()).toBeLessThan(4000)

    const second = await open()
    for (let i = 0; i < 10; i++) expect(await second.backend.storage.getItem(`k${i}`)).toEqual({ wave: 19, i: 90 + i })
    const log = await second.backend.read('log', 5000)
    expect(log).toHaveLength(2000)
    expect(new Set(log).size).toBe(2000)
    await second.backend.dispose()
  })

  it('keeps every write made while a long snapshot is written, exactly once', async () => {
    // A snapshot of a few megabytes takes many writes; lines appended meanwhile reach the old file
    // before the swap, and the new one must hold each of them once.
    const first = await open({ fsync: true })
    const filler = 'x'.repeat(500)
    for (let i = 0; i < 6000; i += 500)
      await Promise.all(Array.from({ length: 500 }, (_, j) => first.backend.storage.setItem(`f${i + j}`, filler)))
    const rewrite = first.journal.rewrite()
    let done = false
    void rewrite.finally(() => {
      done = true
    })
    let n = 0
    while (!done) {
      await first.backend.append([{ log: 'log', id: `id${n}`, entry: `{"id":"${n}"}` }], 100_000)
      n++
    }
    await first.backend.dispose()
    expect(n).toBeGreaterThan(10)

    const second = await open()
    const log = await second.backend.read('log', 100_000)
    expect(log).toHaveLength(n)
    expect(new Set(log).size).toBe(n)
    expect(await second.backend.storage.getItem('f5999')).toBe(filler)
    await second.backend.dispose()
  })

  it('rewrites itself once it holds twice the lines of its last snapshot (with fsync)', async () => {
    const first = await open({ rewriteAfter: 100, fsync: true })
    for (let n = 0; n < 1000; n++) await first.backend.storage.setItem('k', { n })
    await first.backend.dispose()
    expect(await lineCount()).toBeLessThanOrEqual(100)
    const second = await open()
    expect(await second.backend.storage.getItem('k')).toEqual({ n: 999 })
    await second.backend.dispose()
  })

  // Linux tells how each open file was opened; elsewhere there is nothing to read it from.
  it.skipIf(process.platform !== 'linux')(
    'with fsync, writes the journal synchronously to the disk (O_DSYNC), also after a rewrite (Linux only: /proc)',
    async () => {
      const { journal, backend } = await open({ fsync: true })
      await backend.storage.setItem('k', { v: 1 })
      expect(await journalFlags()).toEqual([expect.objectContaining({ dsync: true, append: true })])
      await journal.rewrite()
      await backend.storage.setItem('k', { v: 2 })
      expect(await journalFlags()).toEqual([expect.objectContaining({ dsync: true, append: true })])
      await backend.dispose()
      const plain = await open()
      await plain.backend.storage.setItem('k', { v: 3 })
      expect(await journalFlags()).toEqual([expect.objectContaining({ dsync: false, append: true })])
      await plain.backend.dispose()
    },
  )

  it('drops superseded and expired records and members when it rewrites', async () => {
    let t = now()
    const state = createLocalState(() => t)
    const journal = await openJournal(path, state)
    const backend = createLocalBackend(state, { now: () => t, journal })
    await backend.storage.setItem('short', { v: 1 }, { ttl: 60 })
    await backend.addMember('set', 'm', t + 60)
    await backend.storage.setItem('kept', { v: 1 })
    await backend.storage.setItem('kept', { v: 2 })
    t += 61
    await journal.rewrite()
    await backend.dispose()
    expect(await readFile(path, 'utf8')).toBe('["s","kept","{\\"v\\":2}",null]\n')
  })

  it('keeps the journal whole and in use when a rewrite fails', async () => {
    const first = await open()
    await first.backend.storage.setItem('k', { v: 1 })
    // The snapshot's file cannot be created: a folder is in its way.
    await mkdir(`${path}.next`)
    await expect(first.journal.rewrite()).rejects.toThrow()
    await first.backend.storage.setItem('k', { v: 2 })
    await first.backend.dispose()
    await rm(`${path}.next`, { recursive: true })
    const second = await open()
    expect(await second.backend.storage.getItem('k')).toEqual({ v: 2 })
    await second.backend.dispose()
  })

  // Linux tells which file a descriptor is open on; the failure below is meant for the journal's.
  it.skipIf(process.platform !== 'linux')(
    'drops a rewrite during which a journal write failed, so that no unwritten line reaches the new file (Linux only: /proc)',
    async () => {
      const { journal, backend } = await open()
      await backend.storage.setItem('k', { v: 1 })
      const handle = await fsOpen(path, 'r')
      const proto = Object.getPrototypeOf(handle)
      await handle.close()
      const original = proto.write
      // Writes to the journal fail, as on a full disk; those of the rewrite's new file go on.
      const write = vi.spyOn(proto, 'write').mockImplementation(function (this: { fd: number }, ...args: unknown[]) {
        if (readlinkSync(`/proc/self/fd/${this.fd}`) === path)
          return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }))
        return original.apply(this, args)
      })
      const rewrite = journal.rewrite()
      await expect(backend.storage.setItem('k', { v: 2 })).rejects.toThrow(/ENOSPC/)
      await expect(rewrite).rejects.toThrow(/a journal write failed during the rewrite/)
      write.mockRestore()
      await backend.storage.setItem('after', { v: 3 })
      await backend.dispose()
      expect((await readFile(path, 'utf8')).split('\n').filter(Boolean)).toEqual([
        '["s","k","{\\"v\\":1}",null]',
        '["s","after","{\\"v\\":3}",null]',
      ])
    },
  )

  it('writes a claim and its records together, the claim first, and nothing while it is held', async () => {
    const first = await open()
    const entries = [{ key: 'marker', value: { at: 1 }, expiresAt: now() + 60 }]
    expect(await first.backend.claimAndSetMany?.({ key: 'jti', expiresAt: now() + 60 }, entries, now())).toBe(true)
    const again = [{ key: 'other', value: { at: 2 }, expiresAt: now() + 60 }]
    expect(await first.backend.claimAndSetMany?.({ key: 'jti', expiresAt: now() + 60 }, again, now())).toBe(false)
    await first.backend.dispose()
    expect((await readFile(path, 'utf8')).split('\n').map((line) => line.slice(0, 5))).toEqual(['["c",', '["s",', ''])

    const second = await open()
    expect(await second.backend.claim('jti', now() + 60, now())).toBe(false)
    expect(await second.backend.getMany(['marker', 'other'])).toEqual([{ at: 1 }, null])
    await second.backend.dispose()
  })

  it('gives a claim back when its journal write fails, so a retry is not taken for a replay', async () => {
    const state = createLocalState(now)
    const failing: Journal = {
      append: async () => {
        throw new Error('ENOSPC: no space left on device')
      },
      rewrite: async () => {},
      ping: async () => {},
      close: async () => {},
    }
    const backend = createLocalBackend(state, { now, journal: failing })
    await expect(backend.claim('jti', now() + 60, now())).rejects.toThrow(/ENOSPC/)
    expect(state.claimedUntil('jti')).toBeUndefined()
    const entries = [{ key: 'marker', value: { at: 1 }, expiresAt: now() + 60 }]
    const claim = { key: 'jti', expiresAt: now() + 60 }
    await expect(backend.claimAndSetMany?.(claim, entries, now())).rejects.toThrow(/ENOSPC/)
    expect(state.claimedUntil('jti')).toBeUndefined()
    // A claim that was already held (and expired) is put back as it was, not dropped.
    state.apply(['c', 'old', now() - 1])
    await expect(backend.claimAndSetMany?.({ key: 'old', expiresAt: now() + 60 }, [], now())).rejects.toThrow(/ENOSPC/)
    expect(state.claimedUntil('old')).toBe(now() - 1)
    await backend.dispose()
  })
})

describe('the local state (memory and fs presets)', () => {
  it('forgets expired records, index members and claims at its sweep', async () => {
    let t = now()
    const state = createLocalState(() => t)
    const backend = createLocalBackend(state, { now: () => t, sweepInterval: 0.02 })
    await backend.storage.setItem('short', { v: 1 }, { ttl: 60 })
    await backend.addMember('set', 'm', t + 60)
    await backend.claim('c', t + 60, t)
    await backend.storage.setItem('kept', { v: 2 })
    t += 61
    await expect.poll(() => state.claimedUntil('c'), { timeout: 2000 }).toBeUndefined()
    expect([...state.snapshot()]).toEqual([['s', 'kept', '{"v":2}', null]])
    expect(state.keys('')).toEqual(['kept'])
    await backend.dispose()
  })

  it('sweeps in slices, yielding between them, and keeps what is live', () => {
    let t = now()
    const state = createLocalState(() => t)
    const n = 3 * SWEEP_SLICE
    for (let i = 0; i < n; i++) {
      state.apply(['s', `gone-${i}`, '1', t + 10])
      state.apply(['c', `claim-${i}`, t + 10])
      state.apply(['a', `set-${i % 7}`, `m${i}`, t + 10])
    }
    state.apply(['s', 'kept', '2', t + 1000])
    state.apply(['a', 'set-kept', 'm', t + 1000])
    t += 11
    // A yield after every SWEEP_SLICE records and claims (2n + 1: six), then index members (n + 1: three).
    expect([...state.sweep()]).toHaveLength(9)
    expect([...state.snapshot()]).toEqual([
      ['s', 'kept', '2', t - 11 + 1000],
      ['a', 'set-kept', 'm', t - 11 + 1000],
    ])
  })

  it('holds an index set of one member, grows it into many and empties it', () => {
    const t = now()
    const state = createLocalState(() => t)
    const { members } = state.index
    state.apply(['a', 'set', 'm1', t + 10])
    state.apply(['a', 'set', 'm1', t + 5]) // a member's expiry is never shortened
    expect(members('set', t + 9)).toEqual(['m1'])
    state.apply(['m', 'set', ['other']])
    expect(members('set', t)).toEqual(['m1'])
    state.apply(['a', 'set', 'm2', t + 20])
    expect(members('set', t)).toEqual(['m1', 'm2'])
    expect(members('set', t + 10)).toEqual(['m2'])
    expect([...state.snapshot()]).toEqual([
      ['a', 'set', 'm1', t + 10],
      ['a', 'set', 'm2', t + 20],
    ])
    state.apply(['m', 'set', ['m1', 'm2']])
    state.apply(['a', 'one', 'm', t + 10])
    state.apply(['m', 'one', ['m']])
    expect([members('set', t), members('one', t), [...state.snapshot()]]).toEqual([[], [], []])
  })

  it('keeps every value and expiry exactly as given, whatever the value holds', () => {
    const t = now() + 0.123456789
    let clock = t
    const state = createLocalState(() => clock)
    const values = ['12 34 {"a": "b c"}', '', ' leading space', 'Infinity 5', 'line\nbreak', '1e+21']
    for (const [i, value] of values.entries()) state.apply(['s', `k${i}`, value, t + i + 1.25])
    state.apply(['s', 'forever', '7 days', null])
    state.apply(['a', 'set', '3 m', t + 0.5])
    expect(values.map((_, i) => state.get(`k${i}`))).toEqual(values)
    expect(state.get('forever')).toBe('7 days')
    expect(state.index.members('set', t)).toEqual(['3 m'])
    expect([...state.snapshot()]).toEqual([
      ...values.map((value, i) => ['s', `k${i}`, value, t + i + 1.25]),
      ['s', 'forever', '7 days', null],
      ['a', 'set', '3 m', t + 0.5],
    ])
    // Live until the exact expiry, not a rounded one.
    clock = t + 1.2499
    expect([state.get('k0'), state.index.members('set', t + 0.4999)]).toEqual([values[0], ['3 m']])
    clock = t + 1.25
    expect([state.get('k0'), state.get('k1'), state.index.members('set', t + 0.5)]).toEqual([undefined, values[1], []])
  })

  it('keeps an index set added again while a sweep was paused inside its expired predecessor', () => {
    let t = now()
    const state = createLocalState(() => t)
    for (let i = 0; i <= SWEEP_SLICE; i++) state.apply(['a', 'a:app:iu:u', `old-${i}`, t + 10])
    t += 11
    const sweep = state.sweep()
    sweep.next() // paused after SWEEP_SLICE members of the expired set
    state.apply(['x', 'a:app'])
    state.apply(['a', 'a:app:iu:u', 'new', t + 1000])
    for (const _ of sweep);
    expect(state.index.members('a:app:iu:u', t)).toEqual(['new'])
  })
})
