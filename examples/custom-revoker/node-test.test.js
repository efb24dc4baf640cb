// CI runs vitest only: this runs the node:test file (`pnpm test` here runs it directly too) as a
// user would, with plain `node --test`, and checks every conformance case ran and passed.

import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { sessionStoreCases } from '@backchannel/core/testing'
import { expect, it } from 'vitest'

const here = fileURLToPath(new URL('.', import.meta.url))

it('passes the session conformance suite under node --test', async () => {
  // Plain node resolves @backchannel/core to its build (the examples' global setup builds it).
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--test', '--test-reporter=tap', 'sql-sessions.node-test.js'],
    { cwd: here, env: { ...process.env, NODE_OPTIONS: '' } },
  )
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(stdout)?.[1])
  const cases = sessionStoreCases(() => {
    throw new Error('only counted')
  }).length
  // The store has recorded() but neither claimAndRevoke() nor listByEmail(): the two claimAndRevoke
  // cases and the four email cases skip, saying so.
  expect({ tests: count('tests'), pass: count('pass'), fail: count('fail'), skipped: count('skipped') }).toEqual({
    tests: cases,
    pass: cases - 6,
    fail: 0,
    skipped: 6,
  })
  expect(stdout).toMatch(/# SKIP this store has no claimAndRevoke\(\)/)
  expect(stdout).toMatch(/# SKIP this store has no listByEmail\(\)/)
}, 120_000)
