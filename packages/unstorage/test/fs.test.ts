import { spawn, spawnSync } from 'node:child_process'
import { appendFile, copyFile, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeReplayStore, describeSessionStore } from '@backchannel/core/testing/vitest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fsStore } from '../src/presets/fs.js'
import { itTakesOnceAcrossInstances } from './outbox-suite.js'
import { describeStoreExtras, itClaimsOnceAcrossInstances, itMakesOneSigningKeyAcrossInstances } from './store-suite.js'

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

// The PID 1 test needs a PID namespace (`unshare`, as root); CI must run it.
const canUnshare = spawnSync('unshare', ['-pf', '--mount-proc', 'true']).status === 0
if (!canUnshare && !process.env.CI) {
  console.warn('SKIPPED fs.test.ts "restarts as PID 1": `unshare -pf --mount-proc` is unavailable (it needs root)')
}

describe('fs preset: the data folder', () => {
  let base: string
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'backchannel-fs-'))
  })
  afterEach(() => rm(base, { recursive: true, force: true }))

  itClaimsOnceAcrossInstances(() => fsStore({ base }))
  itMakesOneSigningKeyAcrossInstances(() => fsStore({ base }))
  itTakesOnceAcrossInstances(() => fsStore({ base }))

  it('generates a master key once, keeps it and the database mode 0600, and keeps sessions and claims across a restart', async () => {
    const first = await fsStore({ base })
    await first.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u', sid: 'x' })
    expect(await first.claim('jti-1', Date.now() / 1000 + 60)).toBe(true)
    await first.close()
    const key = await readFile(join(base, 'master.key'), 'utf8')
    for (const file of ['master.key', 'data.mdb', 'lock.mdb']) {
      expect((await stat(join(base, file))).mode & 0o777).toBe(0o600)
    }

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

  describe('a folder written by the journal of earlier versions (fixtures/old-journal)', () => {
    // fixtures/old-journal/journal was written by the journal-based fs store at this time with
    // this master key: an app "billing" (API key "bc_key"), sessions "kept" and "other" of alice,
    // "gone" of bob logged out (sid "sid-gone", jti "jti-1"), three audit records, a setting.
    const t = 1_800_000_000
    const masterKey = Buffer.alloc(32, 7)
    const open = () => fsStore({ base, now: () => t, masterKey })
    const journal = () => join(base, 'journal')
    beforeEach(async () => {
      await copyFile(join(here, 'fixtures/old-journal/journal'), journal())
      // A last line torn by a crash mid-write, never acknowledged.
      await appendFile(journal(), '["s","a:torn","{\\"rec')
    })

    it('converts it at the first start, losing nothing, and keeps the journal aside', async () => {
      const store = await open()
      const app = await store.apps.get('billing')
      expect(app?.kind === 'hmac' && Buffer.from(app.secrets[0]?.key ?? []).equals(Buffer.alloc(32, 9))).toBe(true)
      expect(await store.apps.findByApiKeyHash(app?.apiKeyHash ?? '')).toBe('billing')
      expect(await store.apps.create({ ...(app as NonNullable<typeof app>) })).toBe(false)
      expect((await store.list('billing', 'https://id', 'alice')).map((r) => r.sessionId).sort()).toEqual([
        'kept',
        'other',
      ])
      expect(await store.status('billing', 'gone')).toMatchObject({ state: 'revoked', revokedAt: t })
      expect(await store.claim('jti-1', t + 600)).toBe(false)
      expect((await store.audit.list({ app: 'billing' })).map((r) => r.revoked)).toEqual([2, 1, 0])
      expect((await store.audit.list()).map((r) => r.revoked)).toEqual([2, 1, 0])
      expect(await store.settings.get('admin-token-hash')).toBe('h1')
      await store.close()
      expect((await readdir(base)).sort()).toEqual(['data.mdb', 'journal.converted', 'lock.mdb'])

      const again = await open()
      expect(await again.status('billing', 'kept')).toEqual({ state: 'active' })
      await again.close()
    })

    it('does not import the journal twice when a crash left it in place after the conversion', async () => {
      const first = await open()
      await first.revoke({ app: 'billing', iss: 'https://id', sid: 'sid-kept', scope: 'session', issuedAt: t })
      await first.close()
      // As if the process died between the conversion's commit and the rename.
      await rename(`${journal()}.converted`, journal())

      const second = await open()
      expect(await second.status('billing', 'kept')).toMatchObject({ state: 'revoked' })
      expect(await second.audit.list({ app: 'billing' })).toHaveLength(3)
      await second.close()
      expect(await readdir(base)).not.toContain('journal')
    })

    it('converts it once when several processes start on it at the same moment', async () => {
      const stores = await Promise.all(Array.from({ length: 4 }, () => open()))
      for (const store of stores) expect(await store.status('billing', 'kept')).toEqual({ state: 'active' })
      expect(await stores[0]?.audit.list({ app: 'billing' })).toHaveLength(3)
      await Promise.all(stores.map((store) => store.close()))
      expect((await readdir(base)).sort()).toEqual(['data.mdb', 'journal.converted', 'lock.mdb'])
    })

    it('refuses while a process of the earlier version still holds the folder, and converts once it is gone', async () => {
      const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
      await writeFile(join(base, 'lock'), `${holder.pid}\n`)
      await expect(open()).rejects.toThrow(`still used by an earlier version of the gateway (process ${holder.pid}`)
      expect(await readdir(base)).toContain('journal')
      holder.kill()
      await new Promise((resolve) => holder.once('exit', resolve))
      const store = await open()
      expect(await store.status('billing', 'kept')).toEqual({ state: 'active' })
      await store.close()
      // The stale lock went with the conversion.
      expect((await readdir(base)).sort()).toEqual(['data.mdb', 'journal.converted', 'lock.mdb'])
    })
  })

  /**
   * Runs `command` (fixtures/fs-writer.js and its arguments, maybe behind a wrapper) until it
   * exits, or until the test kills it after `killAfter` acknowledgements. Returns how it ended,
   * the pid the writer saw itself as, and the ids it acknowledged.
   */
  async function runWriter(command: string[], killAfter?: number) {
    const [file = '', ...args] = command
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (killAfter !== undefined && output.split('\n').length - 2 >= killAfter) child.kill('SIGKILL')
    })
    const signal = await new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
    const [first = '', ...rest] = output.split('\n')
    return { signal, pid: first.replace('# pid ', ''), acknowledged: rest.filter(Boolean) }
  }

  /** Runs fixtures/fs-writer.js on `base`; it kills itself after acknowledging `count` writes. */
  async function killedAfter(count: number, mode = 'registrations') {
    const writer = [process.execPath, join(here, 'fixtures/fs-writer.js'), base, String(count), mode]
    const { signal, acknowledged } = await runWriter(writer)
    expect(signal).toBe('SIGKILL')
    expect(acknowledged).toHaveLength(count)
    return acknowledged
  }

  it.skipIf(!canUnshare && !process.env.CI)(
    'restarts as PID 1 (as in a container) on a folder whose PID 1 was killed mid-stream',
    async () => {
      // --kill-child: killing unshare kills the writer, PID 1 of its namespace, with SIGKILL.
      const writer = join(here, 'fixtures/fs-writer.js')
      const asPid1 = (prefix: string) => [
        ...['unshare', '-pf', '--kill-child', '--mount-proc'],
        ...[process.execPath, writer, base, '0', 'registrations', prefix],
      ]
      const first = await runWriter(asPid1('p'), 300)
      const second = await runWriter(asPid1('q'), 300)
      for (const run of [first, second]) {
        expect(run.signal).toBe('SIGKILL')
        expect(run.pid).toBe('1')
        expect(run.acknowledged.length).toBeGreaterThanOrEqual(300)
      }
      const store = await fsStore({ base })
      const ids = [...first.acknowledged, ...second.acknowledged]
      const states = await Promise.all(ids.map((id) => store.status('a', id)))
      expect(states.filter((s) => s.state !== 'active')).toEqual([])
      await store.close()
    },
  )

  it('lets each claim win once when two processes claim the same jtis at once', async () => {
    const claimers = [0, 1].map(() => {
      const child = spawn(process.execPath, [join(here, 'fixtures/fs-claimer.js'), base, '2000'], {
        stdio: ['pipe', 'pipe', 'inherit'],
      })
      let output = ''
      const exited = new Promise<string[]>((resolve) => child.once('exit', () => resolve(output.split('\n'))))
      // A claimer that fails to open the store exits before "ready": fail then, not at the timeout.
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString()
          if (output.startsWith('ready\n')) resolve()
        })
        void exited.then(() => reject(new Error(`a claimer exited before opening the store: ${output}`)))
      })
      return { child, ready, exited }
    })
    await Promise.all(claimers.map((c) => c.ready))
    for (const { child } of claimers) child.stdin.end('go\n')
    const outputs = await Promise.all(claimers.map((c) => c.exited))
    for (const lines of outputs) expect(lines.at(-2)).toBe('done')
    const won = outputs.flat().filter((line) => line.startsWith('k'))
    expect(won).toHaveLength(2000)
    expect(new Set(won).size).toBe(2000)
  }, 30_000)

  it('gives processes opening a new folder at once one master key, never a half-written one', async () => {
    const openers = Array.from({ length: 10 }, () => {
      const child = spawn(process.execPath, [join(here, 'fixtures/fs-opener.js'), base], {
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
      const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
      const exited = new Promise<string>((resolve) => child.once('exit', () => resolve(output)))
      return { child, ready, exited }
    })
    await Promise.all(openers.map((o) => o.ready))
    for (const { child } of openers) child.stdin.end('go\n')
    expect(await Promise.all(openers.map((o) => o.exited))).toEqual(Array(10).fill('ready\nopened\n'))
    // One key, and no draft left beside it.
    expect((await readdir(base)).sort()).toEqual(['data.mdb', 'lock.mdb', 'master.key'])
    expect(Buffer.from((await readFile(join(base, 'master.key'), 'utf8')).trim(), 'base64url')).toHaveLength(32)
  })

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

  it('writes nothing of a claim-and-revoke whose key another instance claims before its commit', async () => {
    const [first, second] = [await fsStore({ base }), await fsStore({ base })]
    await first.register({ app: 'a', iss: 'i', sessionId: 's', sub: 'u', sid: 'x' })
    const now = Date.now() / 1000
    // Both read the key as free in this turn. The claim queued first usually commits first, but the
    // order of two environments' commits is not promised (a loaded machine flips it): exactly one
    // wins, and a claim-and-revoke that lost wrote nothing.
    const [claimed, logout] = await Promise.all([
      second.claim('jti-1', now + 60),
      first.claimAndRevoke?.('jti-1', now + 60, { app: 'a', iss: 'i', sid: 'x', scope: 'session', issuedAt: now }),
    ])
    expect(claimed).toBe(!logout?.claimed)
    expect((await first.status('a', 's')).state).toBe(logout?.claimed ? 'revoked' : 'active')
    await Promise.all([first.close(), second.close()])
  })

  it('names no file after a claim value', async () => {
    const store = await fsStore({ base })
    await store.register({ app: 'a', iss: 'https://id/x', sessionId: 'secret-session', sub: 'alice@example.com' })
    const names = (await readdir(base, { recursive: true })).join('\n')
    expect(names).not.toMatch(/alice|secret-session|https/)
    await store.close()
  })
})
