/**
 * `@backchannel/core/testing` without a test runner: its import graph holds neither vitest nor a
 * Node built-in, its cases run in a plain loop, and they fail a store that breaks the contract.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import type { RelayOutbox, RelayOutboxRevoker } from '../src/relay-outbox.js'
import type { SessionStore } from '../src/session.js'
import {
  type ConformanceCase,
  ConformanceError,
  createMemoryStore,
  isCaseSkipped,
  relayOutboxCases,
  replayStoreCases,
  sessionStoreCases,
} from '../src/testing/index.js'

const here = dirname(fileURLToPath(import.meta.url))

/** Every module specifier reachable from `entry` through relative imports, with the file importing it. */
function importsOf(entry: string): { from: string; specifier: string }[] {
  const seen = new Set<string>()
  const found: { from: string; specifier: string }[] = []
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const source = readFileSync(file, 'utf8')
    for (const [, specifier] of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";=()]*?from\s+'([^']+)'/g)) {
      if (!specifier) continue
      found.push({ from: file, specifier })
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')))
    }
    // Side-effect imports and dynamic ones.
    for (const [, bare, dynamic] of source.matchAll(/(?:^|\n)\s*import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
      const specifier = bare ?? dynamic
      if (specifier) found.push({ from: file, specifier })
    }
  }
  visit(entry)
  return found
}

/** Runs cases as a runner without vitest would: `passed`, `skipped`, or the error. */
async function runAll(cases: ConformanceCase[]) {
  const outcomes: Record<string, unknown> = {}
  for (const c of cases) {
    outcomes[c.name] = await c.run().then(
      () => 'passed',
      (err: unknown) => (isCaseSkipped(err) ? 'skipped' : err),
    )
  }
  return outcomes
}

it('imports neither vitest nor any Node built-in from the neutral entry', () => {
  const imports = importsOf(resolve(here, '../src/testing/index.ts'))
  expect(imports.length).toBeGreaterThan(5)
  const outside = imports.filter(({ specifier }) => !specifier.startsWith('.'))
  expect(outside).toEqual([])
  // The adapters are where the runners come in.
  const vitest = importsOf(resolve(here, '../src/testing/vitest.ts')).filter((i) => i.specifier === 'vitest')
  expect(vitest).toHaveLength(1)
})

it('runs every case in a plain loop: the reference store passes them all', async () => {
  const store = (clock: { now: () => number }) => createMemoryStore({ now: clock.now })
  const outcomes = await runAll([...sessionStoreCases(store), ...replayStoreCases(store)])
  expect(Object.keys(outcomes)).toHaveLength(23 + 5)
  expect(Object.values(outcomes).every((o) => o === 'passed')).toBe(true)
})

it('fails a store that breaks the contract, saying what differs, and disposes of it anyway', async () => {
  let cleanups = 0
  const outcomes = await runAll(
    sessionStoreCases((clock) => {
      const store = createMemoryStore({ now: clock.now })
      // Ends the sessions but reports none: the count is part of the contract.
      const broken: SessionStore = {
        ...store,
        async revoke(target) {
          await store.revoke(target)
          return { revoked: 0 }
        },
      }
      return { store: broken, cleanup: () => void cleanups++ }
    }),
  )
  const failure = outcomes['a sid logout ends the sessions of that sid only']
  expect(failure).toBeInstanceOf(ConformanceError)
  expect(failure).toMatchObject({
    code: 'ERR_CONFORMANCE',
    message: 'revoke(): expected {"revoked":1}, got {"revoked":0}',
    actual: { revoked: 0 },
    expected: { revoked: 1 },
  })
  expect(outcomes['a logout that arrives before its session still wins (sid)']).toBe('passed')
  expect(cleanups).toBe(Object.keys(outcomes).length)
})

it('skips, saying why, a case about an optional method the store lacks', async () => {
  const outcomes = await runAll(
    sessionStoreCases((clock) => {
      const { claimAndRevoke: _, recorded: __, ...store } = createMemoryStore({ now: clock.now })
      return store
    }),
  )
  const skipped = Object.entries(outcomes).filter(([, o]) => o === 'skipped')
  expect(skipped.map(([name]) => name)).toEqual([
    'recorded(): a logout is recorded once revoke() has run for it, or for a later one',
    'claimAndRevoke(): claims the key and revokes in one call; while the key is held it writes nothing',
    'claimAndRevoke(): exactly one of 20 concurrent calls for one key claims it and revokes',
  ])
})

it('tells a revoker that claims relayOutbox but stores no delivery that it does not implement the contract', async () => {
  const outcomes = await runAll(
    relayOutboxCases((clock) => {
      const outbox: RelayOutbox = {
        pending: async () => ({ due: [], count: 0 }),
        take: async () => undefined,
        settle: async () => {},
        get: async () => undefined,
        list: async () => [],
        retry: async () => false,
        discard: async () => false,
      }
      const revoker: RelayOutboxRevoker = { ...createMemoryStore({ now: clock.now }), relayOutbox: true, outbox }
      return revoker
    }),
  )
  expect(
    outcomes['writes one delivery per relay with the revocation, the IdP’s token kept for forward only'],
  ).toMatchObject({
    code: 'ERR_CONFORMANCE',
    message: 'pending().count: expected 2, got 0',
  })
  // No failWrites() from the factory: that case says it could not run.
  expect(outcomes['stores neither the revocation nor its deliveries when the write fails']).toBe('skipped')
  expect(Object.values(outcomes).filter((o) => o === 'passed')).toEqual([])
})
