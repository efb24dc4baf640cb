/**
 * Three sources of settings — flags over the environment over a config file — and secrets read
 * from files: what wins, what each error says (the setting and where it was set), and a real
 * gateway started from a config file alone.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdminClient } from '@backchannel/admin/client'
import { describe, expect, it } from 'vitest'
import { fileKey, loadConfig, SETTINGS, VARIABLES } from '../src/config.js'
import { readConfigFile } from '../src/config-file.js'
import { BIN } from './fixtures/gateway-process.js'

const KEY = Buffer.alloc(32, 7).toString('base64url')
const TOKEN = 'bca_config-file-admin-token-0123456789'

/** A fresh folder holding these files. */
function folder(files: Record<string, string | object> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'bc-config-'))
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content))
  }
  return dir
}

/** The configuration of a folder's config file, the environment `env` and the flags `flags`. */
async function configOf(dir: string, env: Record<string, string> = {}, flags: Record<string, string> = {}) {
  return loadConfig(env, flags, await readConfigFile({ cwd: dir, env }))
}

describe('the config file', () => {
  it('is found in the working folder, and loses to the environment, which loses to the flags', async () => {
    const dir = folder({
      'backchannel.config.json': { port: 4000, host: '127.0.0.2', logLevel: 'warn', storage: 'memory://' },
    })
    expect(await readConfigFile({ cwd: dir, env: {} })).toEqual({
      path: join(dir, 'backchannel.config.json'),
      settings: { PORT: '4000', HOST: '127.0.0.2', BACKCHANNEL_LOG_LEVEL: 'warn', BACKCHANNEL_STORAGE: 'memory://' },
    })
    const config = await configOf(dir, { PORT: '5000', BACKCHANNEL_LOG_LEVEL: 'error' }, { PORT: '6000' })
    expect(config).toMatchObject({ port: 6000, logLevel: 'error', host: '127.0.0.2', storage: { kind: 'memory' } })
  })

  it('may be YAML (any format c12 reads), with lists for comma-separated settings', async () => {
    const dir = folder({ 'backchannel.config.yaml': 'trustedProxies:\n  - 10.0.0.0/8\n  - 192.0.2.7\nworkers: 1\n' })
    expect((await configOf(dir)).trustedProxies).toEqual(['10.0.0.0/8', '192.0.2.7'])
  })

  it('is the file BACKCHANNEL_CONFIG names, or --config, instead of the one in the folder', async () => {
    const dir = folder({
      'backchannel.config.json': { port: 4000 },
      'staging.json': { port: 4001 },
      'other.json': { port: 4002 },
    })
    expect((await configOf(dir, { BACKCHANNEL_CONFIG: 'staging.json' })).port).toBe(4001)
    const named = await readConfigFile({ cwd: dir, env: { BACKCHANNEL_CONFIG: 'staging.json' }, path: 'other.json' })
    expect(named?.path).toBe(join(dir, 'other.json'))
    expect(await readConfigFile({ cwd: folder(), env: {} })).toBeUndefined()
  })

  it('has a key for every setting, derived from its variable', async () => {
    expect(fileKey('BACKCHANNEL_MANAGEMENT_ADDRESS')).toBe('managementAddress')
    expect(fileKey('BACKCHANNEL_MASTER_KEY_FILE')).toBe('masterKeyFile')
    const all = Object.fromEntries(SETTINGS.map((setting) => [fileKey(setting), `value of ${setting}`]))
    const read = await readConfigFile({ cwd: folder({ 'backchannel.config.json': all }), env: {} })
    expect(Object.keys(read?.settings ?? {}).sort()).toEqual([...SETTINGS].sort())
    for (const variable of VARIABLES) expect(read?.settings[variable]).toBe(`value of ${variable}`)
  })

  it('refuses an unknown key, naming the closest known one', async () => {
    for (const [key, closest] of [
      ['prot', 'port'],
      ['BACKCHANNEL_STORAGE', 'storage'],
      ['adminTokenFiel', 'adminTokenFile'],
      ['managementAdress', 'managementAddress'],
    ] as const) {
      const dir = folder({ 'backchannel.config.json': { [key]: 'x' } })
      await expect(readConfigFile({ cwd: dir, env: {} })).rejects.toThrow(
        `BACKCHANNEL_CONFIG: ${join(dir, 'backchannel.config.json')} has an unknown key "${key}": did you mean "${closest}"?`,
      )
    }
  })

  it('suggests nothing for a key near no known one', async () => {
    const dir = folder({ 'backchannel.config.json': { colourScheme: 'dark' } })
    const error = await readConfigFile({ cwd: dir, env: {} }).catch((err: Error) => err)
    expect((error as Error).message).toBe(
      `BACKCHANNEL_CONFIG: ${join(dir, 'backchannel.config.json')} has an unknown key "colourScheme"`,
    )
  })

  it('refuses an object as a value, naming the setting and the file', async () => {
    const dir = folder({ 'backchannel.config.json': { storage: { url: 'memory://' } } })
    await expect(readConfigFile({ cwd: dir, env: {} })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      variable: 'BACKCHANNEL_STORAGE',
      source: `set in ${join(dir, 'backchannel.config.json')} as "storage"`,
    })
  })

  it('is an error when the file named is missing or does not parse', async () => {
    const dir = folder({ 'broken.json': '{ "port": ' })
    await expect(readConfigFile({ cwd: dir, env: { BACKCHANNEL_CONFIG: 'missing.json' } })).rejects.toThrow(
      `BACKCHANNEL_CONFIG: ${join(dir, 'missing.json')} does not exist; set in the environment`,
    )
    await expect(readConfigFile({ cwd: dir, env: {}, path: '/nowhere/bc.json' })).rejects.toThrow(
      'BACKCHANNEL_CONFIG: /nowhere/bc.json does not exist; set by flag --config',
    )
    await expect(readConfigFile({ cwd: dir, env: { BACKCHANNEL_CONFIG: 'broken.json' } })).rejects.toThrow(
      `BACKCHANNEL_CONFIG: cannot read ${join(dir, 'broken.json')}: `,
    )
  })
})

it('the example of docs/operations.md loads as written (with its secret files present)', async () => {
  const doc = await readFile(new URL('../../../docs/operations.md', import.meta.url), 'utf8')
  const example = /### The config file[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1] ?? ''
  const secrets = folder({ 'master-key': `${KEY}\n`, 'admin-token': `${TOKEN}\n` })
  const dir = folder({ 'backchannel.config.json': example.replaceAll('/run/secrets', secrets) })
  expect(await configOf(dir)).toMatchObject({
    port: 3000,
    managementAddress: { host: '127.0.0.1', port: 9000 },
    storage: { kind: 'redis' },
    masterKey: Buffer.alloc(32, 7),
    adminToken: TOKEN,
    trustedProxies: ['10.0.0.0/8'],
  })
})

describe('an error names the setting and where it was set', () => {
  const dir = folder({ 'backchannel.config.json': { port: 'eighty', workers: 'many' } })
  const file = join(dir, 'backchannel.config.json')

  it('a flag', async () => {
    await expect(configOf(dir, {}, { PORT: 'ninety' })).rejects.toMatchObject({
      variable: 'PORT',
      source: 'set by flag --port',
      message: 'PORT: ninety is not a port (0–65535); set by flag --port',
    })
  })
  it('the environment', async () => {
    await expect(configOf(dir, { PORT: '70000' })).rejects.toThrow(
      'PORT: 70000 is not a port (0–65535); set in the environment',
    )
  })
  it('the file, as its own key', async () => {
    await expect(configOf(dir)).rejects.toThrow(`PORT: eighty is not a port (0–65535); set in ${file} as "port"`)
    await expect(configOf(dir, { PORT: '0' })).rejects.toThrow(
      `BACKCHANNEL_WORKERS: many is not a number of processes (1–64) or auto; set in ${file} as "workers"`,
    )
  })
})

describe('secrets from files (*_FILE)', () => {
  const dir = folder({ token: `${TOKEN}\n`, key: `${KEY}\r\n`, bad: 'not-a-key\n', empty: '\n' })

  it('reads the file without its trailing newline, from any source', async () => {
    const env = { BACKCHANNEL_ADMIN_TOKEN_FILE: join(dir, 'token'), BACKCHANNEL_MASTER_KEY_FILE: join(dir, 'key') }
    const config = loadConfig(env)
    expect(config.adminToken).toBe(TOKEN)
    expect(config.masterKey).toEqual(Buffer.alloc(32, 7))
    const fromFile = folder({ 'backchannel.config.json': { adminTokenFile: join(dir, 'token') } })
    expect((await configOf(fromFile)).adminToken).toBe(TOKEN)
  })

  it('takes the secret from the first source that sets it or its file', async () => {
    const fromFile = folder({ 'backchannel.config.json': { adminTokenFile: join(dir, 'empty') } })
    expect((await configOf(fromFile, { BACKCHANNEL_ADMIN_TOKEN: `${TOKEN}-env` })).adminToken).toBe(`${TOKEN}-env`)
    expect(
      loadConfig({ BACKCHANNEL_ADMIN_TOKEN_FILE: join(dir, 'empty') }, { BACKCHANNEL_ADMIN_TOKEN: TOKEN }),
    ).toHaveProperty('adminToken', TOKEN)
  })

  it('refuses both the value and the file in one source', () => {
    expect(() =>
      loadConfig({ BACKCHANNEL_ADMIN_TOKEN: TOKEN, BACKCHANNEL_ADMIN_TOKEN_FILE: join(dir, 'token') }),
    ).toThrow(
      'BACKCHANNEL_ADMIN_TOKEN: give either it or BACKCHANNEL_ADMIN_TOKEN_FILE, not both; set in the environment',
    )
  })

  it('names the setting and the path of a file it cannot read, or that is empty', () => {
    expect(() => loadConfig({ BACKCHANNEL_MASTER_KEY_FILE: join(dir, 'missing') })).toThrow(
      `BACKCHANNEL_MASTER_KEY_FILE: cannot read ${join(dir, 'missing')} (ENOENT); set in the environment`,
    )
    expect(() => loadConfig({}, { BACKCHANNEL_ADMIN_TOKEN_FILE: join(dir, 'empty') })).toThrow(
      `BACKCHANNEL_ADMIN_TOKEN_FILE: ${join(dir, 'empty')} is empty; set by flag --admin-token-file`,
    )
  })

  it('says which file held a bad value', () => {
    expect(() => loadConfig({ BACKCHANNEL_MASTER_KEY_FILE: join(dir, 'bad') })).toThrow(
      expect.objectContaining({
        variable: 'BACKCHANNEL_MASTER_KEY',
        source: `read from ${join(dir, 'bad')} (BACKCHANNEL_MASTER_KEY_FILE in the environment)`,
      }),
    )
  })
})

describe('BACKCHANNEL_MANAGEMENT_ADDRESS', () => {
  it('is host:port, IPv6 in brackets', () => {
    expect(loadConfig({ BACKCHANNEL_MANAGEMENT_ADDRESS: '127.0.0.1:9000' }).managementAddress).toEqual({
      host: '127.0.0.1',
      port: 9000,
    })
    expect(loadConfig({ BACKCHANNEL_MANAGEMENT_ADDRESS: '[::1]:9000' }).managementAddress).toEqual({
      host: '::1',
      port: 9000,
    })
    expect(loadConfig({}).managementAddress).toBeUndefined()
  })

  it('refuses anything else, and the public port', () => {
    for (const value of ['9000', 'localhost:', ':9000', 'h:99999', 'http://h:9000', '::1:9000']) {
      expect(() => loadConfig({ BACKCHANNEL_MANAGEMENT_ADDRESS: value })).toThrow(
        /^BACKCHANNEL_MANAGEMENT_ADDRESS: .* is not host:port/,
      )
    }
    expect(() => loadConfig({ BACKCHANNEL_MANAGEMENT_ADDRESS: '127.0.0.1:3000' })).toThrow(
      'BACKCHANNEL_MANAGEMENT_ADDRESS: must be on another port than PORT (3000)',
    )
  })
})

/** The environment without any setting of the gateway's, so that only the file configures it. */
const bareEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(PORT|HOST|BACKCHANNEL_)/.test(name)))

/** `backchannel serve` in `cwd`; resolves with the URL it listens on, or its exit code and stderr. */
function serveIn(cwd: string) {
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd, env: bareEnv() })
  let stderr = ''
  const started = new Promise<{ url?: string; code?: number | null; stderr: string }>((resolve) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1]
      if (url) resolve({ url, stderr })
    })
    child.once('exit', (code) => resolve({ code, stderr }))
  })
  const stop = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode)
      child.once('exit', resolve)
      child.kill('SIGTERM')
    })
  return { started, stop }
}

describe('backchannel serve with a config file only', () => {
  it('starts from backchannel.config.json in its working folder', async () => {
    const dir = folder({
      'backchannel.config.json': {
        port: 0,
        host: '127.0.0.1',
        storage: 'memory://',
        adminTokenFile: './admin-token',
        managementAddress: '127.0.0.1:0',
        logLevel: 'warn',
      },
      'admin-token': `${TOKEN}\n`,
    })
    const gateway = serveIn(dir)
    try {
      const { url, stderr } = await gateway.started
      expect(url, stderr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect((await fetch(`${url}/readyz`)).status).toBe(200)
      expect((await fetch(`${url}/trpc/apps.list`)).status).toBe(404)
      const management = /management \([^)]*\) on (http:\/\/\S+)/.exec(stderr)?.[1]
      const admin = createAdminClient({ url: `${management}/trpc`, token: TOKEN })
      expect(await admin.apps.list.query()).toEqual([])
    } finally {
      expect(await gateway.stop()).toBe(0)
    }
  })

  it('exits 2 before listening, naming the setting and the file', async () => {
    const dir = folder({ 'backchannel.config.json': { port: 0, storage: 'ftp://nowhere' } })
    const { code, url, stderr } = await serveIn(dir).started
    expect(url).toBeUndefined()
    expect(code).toBe(2)
    expect(stderr.trim().split('\n')).toEqual([
      `backchannel: BACKCHANNEL_STORAGE: "ftp://nowhere" is not memory://, fs://PATH, redis://…, redis+sentinel://…, redis+cluster://…, mongodb://… or postgres://…; set in ${join(dir, 'backchannel.config.json')} as "storage"`,
    ])
  })
})

describe('backchannel export with a config file', () => {
  it('opens the storage the file names, as serve would', async () => {
    const dir = folder({ 'backchannel.config.json': { storage: 'fs://./from-the-file' } })
    const child = spawn(process.execPath, [BIN, 'export'], { cwd: dir, env: bareEnv() })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const code = await new Promise((resolve) => child.once('close', resolve))
    // The folder does not exist: the export names it (so it read the file) and refuses it.
    expect(code, stderr).toBe(2)
    expect(stderr).toContain('fs://./from-the-file holds no Backchannel database')
  })

  it('opens the storage of the file --config names, as serve --config would', async () => {
    const dir = folder({ 'elsewhere.json': { storage: 'fs://./named-by-flag' } })
    const child = spawn(process.execPath, [BIN, 'export', '--config', join(dir, 'elsewhere.json')], {
      cwd: dir,
      env: bareEnv(),
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const code = await new Promise((resolve) => child.once('close', resolve))
    // The folder does not exist: the export names it (so it read the file) and refuses it.
    expect(code, stderr).toBe(2)
    expect(stderr).toContain('fs://./named-by-flag holds no Backchannel database')
  })
})
