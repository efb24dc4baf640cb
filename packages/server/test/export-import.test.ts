/**
 * `backchannel export` and `backchannel import` as real processes: a gateway's state moved
 * fs → Redis → PostgreSQL → fs, then served by a gateway on the last folder as it was by the
 * first; and what an import refuses, writing nothing.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { keyFingerprint } from '@backchannel/unstorage'
import { memoryStore } from '@backchannel/unstorage/memory'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { importFrom, linesOf } from '../src/dump-cli.js'
import { type GatewayProcess, postLogout, runCli, startGateway } from './fixtures/gateway-process.js'
import './setup/provided.js'

const redisUrl = inject('redisUrl')
const postgresUrl = inject('postgresUrl')
if (!redisUrl || !postgresUrl) {
  console.warn('\n⚠ SKIPPING the fs → Redis → PostgreSQL → fs export test: redis-server or PostgreSQL is missing.\n')
}

const folders: string[] = []
const folder = async () => {
  const made = await mkdtemp(join(tmpdir(), 'backchannel-move-'))
  folders.push(made)
  return made
}
afterAll(async () => {
  for (const made of folders) await rm(made, { recursive: true, force: true })
})

/** The dump's entries without the header and end line, in one order. */
const entriesOf = (dump: string) => dump.trim().split('\n').slice(1, -1).sort()
/** Entries comparable across engines: expiries to the millisecond; set members without theirs (Redis keeps one per set). */
const comparable = (dump: string) =>
  entriesOf(dump)
    .map((line) => {
      const entry = JSON.parse(line) as { kind: string; expiresAt?: number | null }
      if (entry.kind === 'member') entry.expiresAt = undefined
      else if (typeof entry.expiresAt === 'number' && entry.kind === 'record')
        entry.expiresAt = Math.round(entry.expiresAt * 1000)
      return JSON.stringify(entry)
    })
    .sort()

describe.skipIf(!redisUrl || !postgresUrl)('moving a gateway fs → Redis → PostgreSQL → fs', () => {
  const app = 'billing'
  let secret: string
  let first: string
  let masterKey: string
  let dumps: string[]
  let gateway: GatewayProcess
  /** The last store of the chain, which holds the applications moved there. */
  let last: string
  const mint = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(secret))
  let replayedToken: string

  beforeAll(async () => {
    // The state, made by a gateway on fs whose master key is the one it generated in its folder.
    const source = await folder()
    const before = await startGateway({ BACKCHANNEL_STORAGE: `fs://${source}` })
    secret = (await before.admin.apps.create.mutate({ name: app })).secret as string
    for (const [sessionId, sub, sid] of [
      ['s1', 'alice', 'x1'],
      ['s2', 'bob', 'x2'],
      ['s3', 'carol', 'x3'],
    ] as const) {
      await before.admin.sessions.register.mutate({ app, sessionId, sub, sid })
    }
    replayedToken = await mint({ sid: 'x1', jti: 'moved-claim' })
    expect((await postLogout(before.url, app, `logout_token=${replayedToken}`)).status).toBe(200)
    // Audit records are written just after the answer (the app's creation has one already).
    const logouts = async () => (await before.admin.audit.list.query({ app })).filter((r) => r.source === 'backchannel')
    while ((await logouts()).length === 0) await new Promise((r) => setTimeout(r, 50))
    expect(await before.stop()).toBe(0)
    masterKey = (await readFile(join(source, 'master.key'), 'utf8')).trim()

    // Redis (a database of its own) and PostgreSQL (a database of its own).
    const redis = new Redis(`${redisUrl}/5`)
    await redis.flushdb()
    redis.disconnect()
    const sql = postgres(postgresUrl as string, { onnotice: () => {} })
    const database = `move_${Date.now()}`
    await sql`CREATE DATABASE ${sql(database)}`
    await sql.end()
    const target = await folder()
    const chain = [
      `fs://${source}`,
      `${redisUrl}/5`,
      (postgresUrl as string).replace(/\/[^/]*$/, `/${database}`),
      `fs://${target}`,
    ]

    // The first export reads the key from the folder; the rest need it in the environment.
    const exported = await runCli(['export'], { BACKCHANNEL_STORAGE: chain[0] as string })
    expect(exported).toMatchObject({ code: 0, stderr: expect.stringMatching(/^backchannel: exported \d+ entries/) })
    first = exported.stdout
    dumps = [first]
    const env = { BACKCHANNEL_MASTER_KEY: masterKey }
    for (const storage of chain.slice(1)) {
      const imported = await runCli(['import'], { ...env, BACKCHANNEL_STORAGE: storage }, dumps.at(-1))
      expect(imported.stderr).toMatch(/^backchannel: imported \d+ entries into /)
      expect(imported.code).toBe(0)
      const again = await runCli(['export', '--storage', storage], env)
      expect(again.code).toBe(0)
      dumps.push(again.stdout)
    }
    last = chain[3] as string
    gateway = await startGateway({ BACKCHANNEL_STORAGE: last, ...env })
  }, 120_000)
  afterAll(async () => {
    if (gateway) expect(await gateway.stop()).toBe(0)
  })

  it('carries every record, claim and audit entry through each engine', () => {
    expect(entriesOf(first).length).toBeGreaterThan(10)
    for (const dump of dumps.slice(1)) expect(comparable(dump)).toEqual(comparable(first))
    expect(JSON.parse(dumps[3]?.split('\n')[0] as string)).toMatchObject({ backchannel: 'dump', gateway: '0.1.0' })
  })

  it("reads back each session's state", async () => {
    expect(await gateway.admin.sessions.status.query({ app, sessionId: 's1' })).toMatchObject({ state: 'revoked' })
    expect(await gateway.admin.sessions.status.query({ app, sessionId: 's2' })).toEqual({ state: 'active' })
  })

  it('answers the same token as a replay: its claim moved too', async () => {
    expect((await postLogout(gateway.url, app, `logout_token=${replayedToken}`)).status).toBe(200)
    await expect
      .poll(async () =>
        (await gateway.admin.audit.list.query({ app })).filter((r) => r.source === 'backchannel').map((r) => r.outcome),
      )
      .toEqual(['replayed', 'revoked'])
  })

  it('verifies a new token with the secret issued before the move (sealed, and opened with the same key)', async () => {
    expect((await postLogout(gateway.url, app, `logout_token=${await mint({ sid: 'x2' })}`)).status).toBe(200)
    expect(await gateway.admin.sessions.status.query({ app, sessionId: 's2' })).toMatchObject({ state: 'revoked' })
    expect(await gateway.admin.sessions.status.query({ app, sessionId: 's3' })).toEqual({ state: 'active' })
  })

  it('refuses a dump under another master key, with a message, writing nothing', async () => {
    const storage = `fs://${await folder()}`
    const other = { BACKCHANNEL_STORAGE: storage, BACKCHANNEL_MASTER_KEY: randomBytes(32).toString('base64url') }
    const refused = await runCli(['import'], other, first)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/this dump was made with another BACKCHANNEL_MASTER_KEY: /)
    const after = await runCli(['export'], other)
    expect(entriesOf(after.stdout)).toEqual([])
  })

  it('asks for the key rather than import into a new fs folder under a key of its own', async () => {
    const fresh = await folder()
    const refused = await runCli(['import'], { BACKCHANNEL_STORAGE: `fs://${fresh}` }, first)
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('set BACKCHANNEL_MASTER_KEY') })
    await expect(readFile(join(fresh, 'master.key'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses an fs folder whose master.key is not BACKCHANNEL_MASTER_KEY, naming both, writing nothing', async () => {
    const other = await folder()
    await writeFile(join(other, 'master.key'), `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 })
    const env = { BACKCHANNEL_STORAGE: `fs://${other}`, BACKCHANNEL_MASTER_KEY: masterKey }
    const refused = await runCli(['import'], env, first)
    expect(refused).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(`BACKCHANNEL_MASTER_KEY is not the key in ${join(other, 'master.key')}`),
    })
    await expect(readFile(join(other, 'data.mdb'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses to export an fs folder that holds no database, creating nothing', async () => {
    const mistyped = join(await folder(), 'mistyped', 'path')
    const refused = await runCli(['export', '--storage', `fs://${mistyped}`], { BACKCHANNEL_MASTER_KEY: masterKey })
    expect(refused).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('holds no Backchannel database'),
    })
    await expect(readFile(join(mistyped, 'master.key'))).rejects.toMatchObject({ code: 'ENOENT' })
    const empty = await folder()
    expect((await runCli(['export', '--storage', `fs://${empty}`], {})).code).toBe(2)
    await expect(readFile(join(empty, 'master.key'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses a damaged or cut-short dump, naming the line, writing nothing', async () => {
    const env = { BACKCHANNEL_STORAGE: `fs://${await folder()}`, BACKCHANNEL_MASTER_KEY: masterKey }
    const lines = first.trim().split('\n')
    const cut = `${lines.slice(0, 6).join('\n')}\n${(lines[6] as string).slice(0, 15)}`
    const refused = await runCli(['import'], env, cut)
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('line 7 of the dump is not JSON') })
    const short = await runCli(['import'], env, `${lines.slice(0, 6).join('\n')}\n`)
    expect(short).toMatchObject({ code: 1, stderr: expect.stringContaining('after line 6, without its end line') })
    expect(entriesOf((await runCli(['export'], env)).stdout)).toEqual([])
  })

  it('refuses a target holding applications unless --merge; a bad storage is a usage error', async () => {
    const env = { BACKCHANNEL_STORAGE: last, BACKCHANNEL_MASTER_KEY: masterKey }
    const refused = await runCli(['import'], env, first)
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('already holds applications') })
    expect((await runCli(['import', '--merge'], env, first)).code).toBe(0)
    expect((await runCli(['export', '--storage', 'memory://'], env)).code).toBe(2)
    expect((await runCli(['export', '--storage', 'redis://'], {})).code).toBe(2)
  })
})

describe('reading a dump', () => {
  const key = randomBytes(32)
  const header = `${JSON.stringify({ backchannel: 'dump', format: 1, key: keyFingerprint(key), exportedAt: 1 })}\n`

  it('refuses a line longer than 16 MiB by its length, naming it, without reading it whole', async () => {
    const store = memoryStore({ masterKey: key })
    // 20 MiB on one line, in 1 MiB chunks, as stdin would bring it.
    const chunks = [header, ...Array.from({ length: 20 }, () => Buffer.alloc(1024 * 1024, 'x')), '\n']
    await expect(importFrom(store, Readable.from(chunks), { merge: false })).rejects.toMatchObject({
      code: 'ERR_DUMP_INVALID',
      message: 'line 2 of the dump is longer than 16 MiB: it is no entry of a dump',
    })
    await store.close()
  })

  it('reads CRLF line ends and a last line without one', async () => {
    const store = memoryStore({ masterKey: key })
    const claim = JSON.stringify({ kind: 'claim', key: 'r:1', expiresAt: Date.now() / 1000 + 60 })
    const dump = `${header.trim()}\r\n${claim}\r\n{"kind":"end","entries":1}`
    const split = [dump.slice(0, 50), dump.slice(50, 51), dump.slice(51)]
    expect(await importFrom(store, Readable.from(split), { merge: false })).toEqual({ entries: 1 })
    expect(await store.backend.claim('r:1', Date.now() / 1000 + 60, Date.now() / 1000)).toBe(false)
    await store.close()
  })

  it('stops reading a line once it is past the limit (a 1 GiB line is never held)', async () => {
    const mib = Buffer.alloc(1024 * 1024, 'x')
    let pulled = 0
    const endless = Readable.from(
      (function* () {
        for (; pulled < 1024; pulled++) yield mib
      })(),
    )
    const lines: string[] = []
    for await (const line of linesOf(endless)) lines.push(line)
    expect(lines.map((line) => line.length)).toEqual([16 * 1024 * 1024 + 1])
    expect(pulled).toBeLessThan(64)
  })
})
