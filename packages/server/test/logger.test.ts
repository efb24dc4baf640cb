import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { createLogger } from '../src/index.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bc-logger-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

it('writes JSON lines at or above its level to the destination given, in order', async () => {
  const file = join(dir, 'gateway.log')
  const logger = createLogger('info', file)
  logger.debug('not at this level')
  for (let i = 0; i < 100; i++) logger.info({ app: 'wiki', n: i }, 'logout')
  // Written asynchronously: wait for the last line.
  const read = async () => (await readFile(file, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean)
  await vi.waitFor(async () => expect(await read()).toHaveLength(100))
  const lines = (await read()).map((line) => JSON.parse(line))
  expect(lines.map((l) => l.n)).toEqual([...Array(100).keys()])
  expect(lines[0]).toMatchObject({ level: 'info', service: 'backchannel', app: 'wiki', msg: 'logout' })
  // An ISO 8601 time, in UTC.
  expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
})

it('writes a lone line without waiting for more to fill its buffer', async () => {
  const file = join(dir, 'gateway.log')
  const logger = createLogger('info', file)
  logger.info({ app: 'wiki' }, 'listening')
  await vi.waitFor(async () => expect(await readFile(file, 'utf8').catch(() => '')).toMatch(/"msg":"listening"/), {
    timeout: 2000,
  })
})

it('writes what it holds when the process exits, even on an uncaught exception', async () => {
  // The build, in a process of its own that logs one line and crashes at once.
  const logger = new URL('../dist/logger.js', import.meta.url).href
  const script = `import { createLogger } from '${logger}'
createLogger('info', 1).info({ app: 'wiki' }, 'the last line')
throw new Error('crash')`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script])
  let stdout = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  const code = await new Promise((resolve) => child.on('close', resolve))
  expect(code).toBe(1)
  expect(JSON.parse(stdout)).toMatchObject({ msg: 'the last line', app: 'wiki' })
})
