/** Configuration is checked before the gateway listens; a bad value stops it naming the variable. */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig, usableCores } from '../src/config.js'
import { describeStorage } from '../src/storage.js'
import { runCli } from './fixtures/gateway-process.js'

const KEY = Buffer.alloc(32, 7).toString('base64url')

describe('loadConfig', () => {
  it('has the defaults of the design', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      storage: { kind: 'fs', path: './.backchannel' },
      allowInsecureIssuers: false,
      trustedIssuerHosts: [],
      logLevel: 'info',
      trustProxy: false,
      trustedProxies: [],
      failureLimits: { perAddress: 30, perApp: 300, window: 60 },
      workers: 1,
    })
  })

  it('reads BACKCHANNEL_PUBLIC_URL as an absolute http(s) URL, by default on the port', () => {
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080')
    expect(loadConfig({ BACKCHANNEL_PUBLIC_URL: 'https://gw.example.com/' }).publicUrl).toBe('https://gw.example.com')
    expect(loadConfig({ BACKCHANNEL_PUBLIC_URL: 'https://example.com/bc' }).publicUrl).toBe('https://example.com/bc')
    for (const value of [
      'gw.example.com',
      '/bc',
      'ftp://gw.example.com',
      'https://gw.example.com/?a=1',
      'https://gw#x',
    ]) {
      expect(() => loadConfig({ BACKCHANNEL_PUBLIC_URL: value })).toThrow(
        /^BACKCHANNEL_PUBLIC_URL: .* is not an absolute/,
      )
    }
  })

  it('takes only true or false for a switch, in any case', () => {
    expect(loadConfig({ BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'TRUE' }).allowInsecureIssuers).toBe(true)
    expect(loadConfig({ BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'false' }).allowInsecureIssuers).toBe(false)
    for (const value of ['yes', '1', 'on', 'no', '0']) {
      expect(() => loadConfig({ BACKCHANNEL_ALLOW_INSECURE_ISSUERS: value })).toThrow(
        `BACKCHANNEL_ALLOW_INSECURE_ISSUERS: "${value}" is not true or false`,
      )
    }
  })

  it('reads BACKCHANNEL_TRUSTED_PROXIES as addresses and CIDRs, refusing anything else', () => {
    expect(loadConfig({ BACKCHANNEL_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.7,fd00::/8' }).trustedProxies).toEqual([
      '10.0.0.0/8',
      '192.0.2.7',
      'fd00::/8',
    ])
    for (const value of ['10.0.0.0/33', 'proxy.local', '10.0.0.0/8/1', '::1/129']) {
      expect(() => loadConfig({ BACKCHANNEL_TRUSTED_PROXIES: value })).toThrow(/^BACKCHANNEL_TRUSTED_PROXIES: /)
    }
  })

  it('reads BACKCHANNEL_FAILURE_LIMITS as failures per address, per app, per window', () => {
    expect(loadConfig({ BACKCHANNEL_FAILURE_LIMITS: '5, 50, 10' }).failureLimits).toEqual({
      perAddress: 5,
      perApp: 50,
      window: 10,
    })
    for (const value of ['5,50', '5,50,0', '5,-1,10', '5,50,1.5', 'many']) {
      expect(() => loadConfig({ BACKCHANNEL_FAILURE_LIMITS: value })).toThrow(/^BACKCHANNEL_FAILURE_LIMITS: /)
    }
  })

  it('reads BACKCHANNEL_WORKERS: a count, or auto for one per core', () => {
    expect(loadConfig({ BACKCHANNEL_WORKERS: '3' }).workers).toBe(3)
    expect(loadConfig({ BACKCHANNEL_WORKERS: 'auto' }).workers).toBe(usableCores())
    expect(loadConfig({ BACKCHANNEL_STORAGE: 'memory://', BACKCHANNEL_WORKERS: '1' }).workers).toBe(1)
  })

  it('auto counts the cores a container may use: its cgroup CPU quota, rounded up, within the machine', () => {
    const folder = mkdtempSync(join(tmpdir(), 'bc-cgroup-'))
    const cpuMax = (text: string) => {
      writeFileSync(join(folder, 'cpu.max'), text)
      return usableCores(join(folder, 'cpu.max'))
    }
    expect(cpuMax('max 100000\n')).toBe(availableParallelism())
    expect(cpuMax('100000 100000\n')).toBe(1)
    expect(cpuMax('150000 100000\n')).toBe(Math.min(2, availableParallelism()))
    expect(cpuMax('50000 100000\n')).toBe(1)
    expect(cpuMax(`${1000 * 100000} 100000\n`)).toBe(availableParallelism())
    expect(usableCores(join(folder, 'no-such-file'))).toBe(availableParallelism())
  })

  it('resolves BACKCHANNEL_REVOKER against the working folder, and refuses a path that does not exist', () => {
    expect(loadConfig({ BACKCHANNEL_REVOKER: './package.json' }).revoker).toBe(resolve('package.json'))
    const flag = resolve('package.json')
    expect(loadConfig({ BACKCHANNEL_REVOKER: './nope.js' }, { BACKCHANNEL_REVOKER: flag }).revoker).toBe(flag)
    expect(() => loadConfig({ BACKCHANNEL_REVOKER: './no-such-revoker.js' })).toThrow(
      `BACKCHANNEL_REVOKER: the revoker plugin ./no-such-revoker.js (--revoker) does not exist (${resolve('no-such-revoker.js')})`,
    )
  })

  it('reads every storage kind, and flags win over the environment', () => {
    expect(loadConfig({ BACKCHANNEL_STORAGE: 'memory://' }).storage).toEqual({ kind: 'memory' })
    expect(loadConfig({ BACKCHANNEL_STORAGE: 'fs:///var/lib/bc' }).storage).toEqual({ kind: 'fs', path: '/var/lib/bc' })
    const redis = loadConfig({ BACKCHANNEL_STORAGE: 'redis://h:6379/2', BACKCHANNEL_MASTER_KEY: KEY })
    expect(redis.storage).toEqual({ kind: 'redis', url: 'redis://h:6379/2' })
    expect(redis.masterKey).toEqual(Buffer.alloc(32, 7))
    const mongo = loadConfig({ BACKCHANNEL_STORAGE: 'mongodb://h/bc', BACKCHANNEL_MASTER_KEY: KEY })
    expect(mongo.storage).toEqual({ kind: 'mongodb', url: 'mongodb://h/bc', database: 'bc' })
    for (const url of ['postgres://bc@h:5432/bc', 'postgresql://h/bc']) {
      expect(loadConfig({ BACKCHANNEL_STORAGE: url, BACKCHANNEL_MASTER_KEY: KEY }).storage).toEqual({
        kind: 'postgres',
        url,
      })
    }
    expect(loadConfig({ PORT: '80' }, { PORT: '8080' }).port).toBe(8080)
    expect(loadConfig({ BACKCHANNEL_TRUSTED_ISSUER_HOSTS: 'ID.corp, sso.corp' }).trustedIssuerHosts).toEqual([
      'id.corp',
      'sso.corp',
    ])
  })

  it('reads Redis behind Sentinel, a Redis Cluster and TLS, and hides their passwords in logs', () => {
    for (const url of [
      'rediss://:pw@h:6380/1',
      'redis+sentinel://u:pw@s1:26379,s2:26379/mymaster?replicas=0',
      'rediss+sentinel://s1,s2/mymaster/2',
      'redis+cluster://:pw@n1:7000,n2:7001,n3:7002?replicaTimeout=2000',
    ]) {
      const config = loadConfig({ BACKCHANNEL_STORAGE: url, BACKCHANNEL_MASTER_KEY: KEY })
      expect(config.storage).toEqual({ kind: 'redis', url })
      expect(describeStorage(config)).not.toContain('pw')
    }
    expect(describeStorage({ storage: { kind: 'redis', url: 'redis+sentinel://u:pw@s1,s2/m' } })).toBe(
      'redis+sentinel://u:***@s1,s2/m',
    )
  })

  it('refuses a Sentinel URL without the master name, naming BACKCHANNEL_STORAGE and what is missing', () => {
    expect(() =>
      loadConfig({ BACKCHANNEL_STORAGE: 'redis+sentinel://s1:26379,s2:26379', BACKCHANNEL_MASTER_KEY: KEY }),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG',
        variable: 'BACKCHANNEL_STORAGE',
        message: expect.stringMatching(/^BACKCHANNEL_STORAGE: .*must name the master/),
      }),
    )
  })

  for (const [env, variable] of [
    [{ BACKCHANNEL_STORAGE: 'mysql://db' }, 'BACKCHANNEL_STORAGE'],
    [{ BACKCHANNEL_STORAGE: 'postgres://db' }, 'BACKCHANNEL_MASTER_KEY'],
    [{ BACKCHANNEL_STORAGE: 'redis+cluster://n1:7000?replica=0', BACKCHANNEL_MASTER_KEY: KEY }, 'BACKCHANNEL_STORAGE'],
    [{ BACKCHANNEL_STORAGE: 'redis+sentinel://s1:26379/m' }, 'BACKCHANNEL_MASTER_KEY'],
    [{ BACKCHANNEL_STORAGE: 'redis+cluster://n1:7000' }, 'BACKCHANNEL_MASTER_KEY'],
    [{ BACKCHANNEL_STORAGE: 'fs://' }, 'BACKCHANNEL_STORAGE'],
    [{ BACKCHANNEL_MASTER_KEY: 'too-short' }, 'BACKCHANNEL_MASTER_KEY'],
    [{ BACKCHANNEL_STORAGE: 'redis://localhost:6379' }, 'BACKCHANNEL_MASTER_KEY'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ BACKCHANNEL_ALLOW_INSECURE_ISSUERS: 'maybe' }, 'BACKCHANNEL_ALLOW_INSECURE_ISSUERS'],
    [{ BACKCHANNEL_LOG_LEVEL: 'loud' }, 'BACKCHANNEL_LOG_LEVEL'],
    [{ BACKCHANNEL_ADMIN_TOKEN: 'short' }, 'BACKCHANNEL_ADMIN_TOKEN'],
    [{ BACKCHANNEL_WORKERS: '0' }, 'BACKCHANNEL_WORKERS'],
    [{ BACKCHANNEL_WORKERS: 'many' }, 'BACKCHANNEL_WORKERS'],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}, naming ${variable}`, () => {
      expect(() => loadConfig(env)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', variable }))
    })
  }
})

describe('backchannel serve with a bad value', () => {
  for (const [env, variable] of [
    [{ BACKCHANNEL_STORAGE: 'ftp://nowhere' }, 'BACKCHANNEL_STORAGE'],
    [{ BACKCHANNEL_STORAGE: 'memory://', BACKCHANNEL_MASTER_KEY: 'not-base64url-32-bytes' }, 'BACKCHANNEL_MASTER_KEY'],
    [{ BACKCHANNEL_STORAGE: 'redis://127.0.0.1:6379' }, 'BACKCHANNEL_MASTER_KEY'],
    // Each process would keep its own sessions: a logout through one worker unseen by the other.
    [{ BACKCHANNEL_STORAGE: 'memory://', BACKCHANNEL_WORKERS: '2' }, 'BACKCHANNEL_WORKERS'],
  ] as const) {
    it(`exits non-zero with one line naming ${variable}, before listening`, async () => {
      const { code, stderr, stdout } = await runCli(['serve'], { ...env, PORT: '0' })
      expect(code).toBe(2)
      expect(stderr.trim().split('\n')).toHaveLength(1)
      expect(stderr).toMatch(new RegExp(`^backchannel: ${variable}: `))
      expect(stdout).not.toContain('listening')
    })
  }
})

describe('backchannel serve on a port in use', () => {
  it('says which port, and how to choose another', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as AddressInfo).port
    try {
      const { code, stderr } = await runCli(['serve'], {
        BACKCHANNEL_STORAGE: 'memory://',
        HOST: '127.0.0.1',
        PORT: String(port),
      })
      expect(code).not.toBe(0)
      expect(stderr).toContain(`PORT: port ${port} on 127.0.0.1 is already in use (EADDRINUSE)`)
      expect(stderr).toContain('choose another port with PORT=')
    } finally {
      taken.close()
    }
  })

  it('still shows an admin token it generated before failing: the next start will not generate one', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as AddressInfo).port
    try {
      for (const workers of ['1', '2']) {
        const storage = `fs://${mkdtempSync(join(tmpdir(), 'bc-token-'))}`
        const env = { BACKCHANNEL_STORAGE: storage, BACKCHANNEL_ADMIN_TOKEN: '', HOST: '127.0.0.1', PORT: String(port) }
        const first = await runCli(['serve'], { ...env, BACKCHANNEL_WORKERS: workers })
        expect(first.code).not.toBe(0)
        expect(first.stderr).toContain('EADDRINUSE')
        expect(first.stderr).toMatch(/BACKCHANNEL_ADMIN_TOKEN=bca_\S+/)
        // The token is in the store now: a second start has none to show.
        const second = await runCli(['serve'], { ...env, BACKCHANNEL_WORKERS: workers })
        expect(second.stderr).not.toContain('BACKCHANNEL_ADMIN_TOKEN=')
      }
    } finally {
      taken.close()
    }
  })
})
