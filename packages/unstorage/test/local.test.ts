import { describe, expect, it } from 'vitest'
import { createLocalBackend } from '../src/_internal/local-backend.js'
import { createLocalState, SWEEP_SLICE } from '../src/_internal/local-state.js'

const now = () => 1_800_000_000

describe('the local state (memory preset)', () => {
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
