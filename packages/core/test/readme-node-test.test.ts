/**
 * The README's `node:test` file runs as it is: written beside the package (so `@backchannel/core`
 * resolves to itself, built by the global setup) and run with plain `node --test`, every case passes.
 */
import { execFile } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { relayOutboxCases, replayStoreCases, sessionStoreCases } from '../src/testing/index.js'

const run = promisify(execFile)
const core = fileURLToPath(new URL('..', import.meta.url))

it("runs the README's node:test file with node --test: every case passes", async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const snippet = /```js\n(\/\/ store\.test\.mjs[^\n]*\n[\s\S]*?)```/.exec(readme)?.[1]
  expect(snippet).toContain("from '@backchannel/core/testing/node'")
  const file = `${core}/readme-${process.pid}.test.mjs`
  await writeFile(file, snippet as string)
  try {
    const { stdout } = await run(process.execPath, ['--test', '--test-reporter=tap', file], {
      cwd: core,
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(stdout)?.[1])
    const none = () => {
      throw new Error('only counted')
    }
    const cases = sessionStoreCases(none).length + replayStoreCases(none).length + relayOutboxCases(none).length
    // The reference gives no failWrites(): the two failed-write cases of the outbox say so and skip.
    expect([count('tests'), count('pass'), count('fail'), count('skipped')]).toEqual([cases, cases - 2, 0, 2])
  } finally {
    await rm(file, { force: true })
  }
}, 60_000)
