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
  expect(lines[0]).toMatchObject({ level: 30, service: 'backchannel', app: 'wiki', msg: 'logout' })
})
