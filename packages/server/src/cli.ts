/**
 * The `backchannel` command: `serve`; one command per procedure of the admin API (`apps`,
 * `sessions`, `audit`, `whoami`, …: derived from the router, see cli/admin.ts); `token`, which
 * mints (and optionally posts) an HMAC logout token; and `export` / `import`, which move the whole
 * state between storage engines (see dump-cli.ts). The commands keep citty's shape; cli/run.ts
 * runs them. Exit codes: 0 done, 1 failed, 2 usage or configuration.
 * @module
 */
import cluster from 'node:cluster'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { mintLogoutToken } from '@backchannel/core/mint'
import { DumpInvalid, DumpKeyMismatch, ImportTargetNotEmpty } from '@backchannel/unstorage'
import { type ArgsDef, defineCommand } from 'citty'
import { adminCommands } from './cli/admin.js'
import { fail, print, reason } from './cli/output.js'
import { runCommandTree } from './cli/run.js'
import { ConfigError, type ConfigOverrides, loadConfig } from './config.js'
import { readConfigFile } from './config-file.js'
import { exportTo, importFrom } from './dump-cli.js'
import { health } from './health-cli.js'
import { describeStorage, openStore } from './storage.js'

const serve = defineCommand({
  meta: {
    name: 'serve',
    description: 'run the gateway (flags override the environment, which overrides the config file)',
  },
  args: {
    port: { type: 'string', description: 'PORT (default 3000)' },
    host: { type: 'string', description: 'HOST (default 0.0.0.0)' },
    storage: {
      type: 'string',
      description: 'BACKCHANNEL_STORAGE: memory://, fs://PATH, redis://…, mongodb://…, postgres://…',
    },
    'log-level': { type: 'string', description: 'BACKCHANNEL_LOG_LEVEL (default info)' },
    'allow-insecure-issuers': { type: 'boolean', description: 'BACKCHANNEL_ALLOW_INSECURE_ISSUERS (development only)' },
    'trusted-issuer-hosts': { type: 'string', description: 'BACKCHANNEL_TRUSTED_ISSUER_HOSTS, comma-separated' },
    'trust-proxy': { type: 'boolean', description: 'BACKCHANNEL_TRUST_PROXY: client address from X-Forwarded-For' },
    workers: {
      type: 'string',
      description: 'BACKCHANNEL_WORKERS: processes on one port (default 1; auto: one per core)',
    },
    'management-address': {
      type: 'string',
      description: 'BACKCHANNEL_MANAGEMENT_ADDRESS: host:port serving /trpc and /metrics, which then leave PORT',
    },
    config: { type: 'string', description: 'BACKCHANNEL_CONFIG: the config file (default ./backchannel.config.*)' },
    revoker: { type: 'string', description: 'BACKCHANNEL_REVOKER: a module whose default export builds the revoker' },
    'public-url': { type: 'string', description: "BACKCHANNEL_PUBLIC_URL: the gateway's own issuer URL" },
  },
  async run({ args }) {
    const flag = (value: boolean | undefined) => (value === undefined ? undefined : String(value))
    const overrides: ConfigOverrides = {
      PORT: args.port,
      HOST: args.host,
      BACKCHANNEL_STORAGE: args.storage,
      BACKCHANNEL_LOG_LEVEL: args['log-level'],
      BACKCHANNEL_ALLOW_INSECURE_ISSUERS: flag(args['allow-insecure-issuers']),
      BACKCHANNEL_TRUSTED_ISSUER_HOSTS: args['trusted-issuer-hosts'],
      BACKCHANNEL_TRUST_PROXY: flag(args['trust-proxy']),
      BACKCHANNEL_WORKERS: args.workers,
      BACKCHANNEL_MANAGEMENT_ADDRESS: args['management-address'],
      BACKCHANNEL_REVOKER: args.revoker,
      BACKCHANNEL_PUBLIC_URL: args['public-url'],
    }
    let config: ReturnType<typeof loadConfig>
    try {
      config = loadConfig(process.env, overrides, await readConfigFile({ path: args.config }))
    } catch (err) {
      if (err instanceof ConfigError) return fail(err.message, 2)
      throw err
    }
    // The server's modules load for serve only: the other commands start in a fraction of the time.
    const start =
      config.workers > 1 && cluster.isPrimary
        ? (await import('./workers.js')).runPrimary
        : (await import('./serve.js')).runServer
    await start(config).catch((err: Error) =>
      fail(`cannot start: ${err.message}${err.cause ? ` (${(err.cause as Error).message})` : ''}`),
    )
  },
})

const token = defineCommand({
  meta: { name: 'token', description: 'mint an HMAC logout token (and post it with --send)' },
  args: {
    app: { type: 'string', required: true, description: 'the application name' },
    secret: { type: 'string', description: 'the secret the gateway issued (default $BACKCHANNEL_SECRET)' },
    sub: { type: 'string', description: "the user's id" },
    sid: { type: 'string', description: 'the session id' },
    alg: { type: 'enum', options: ['HS256', 'HS384', 'HS512'], description: 'the signature (default HS256)' },
    iss: { type: 'string', description: "the token's iss, when the application's policy expects one" },
    aud: { type: 'string', description: "the token's aud, when the application's policy expects one" },
    send: { type: 'string', description: 'post it to this gateway (base URL or full logout URL)', valueHint: 'URL' },
  },
  async run({ args }) {
    const secret = args.secret ?? process.env.BACKCHANNEL_SECRET
    if (!secret) return fail('give --secret or set BACKCHANNEL_SECRET', 2)
    if (!args.sub && !args.sid) return fail('give --sub or --sid', 2)
    const logoutToken = await mintLogoutToken({
      secret,
      ...(args.sub ? { sub: args.sub } : {}),
      ...(args.sid ? { sid: args.sid } : {}),
      ...(args.alg ? { alg: args.alg } : {}),
      ...(args.iss ? { iss: args.iss } : {}),
      ...(args.aud ? { aud: args.aud } : {}),
    })
    if (!args.send) return void process.stdout.write(`${logoutToken}\n`)
    const target = args.send.includes('/auth/logout/')
      ? args.send
      : `${args.send.replace(/\/+$/, '')}/auth/logout/${encodeURIComponent(args.app)}`
    const res = await fetch(target, { method: 'POST', body: new URLSearchParams({ logout_token: logoutToken }) }).catch(
      (err: Error) => fail(`cannot reach ${target}: ${reason(err)}; the gateway may not be running`),
    )
    const body = await res.text()
    const parsed = (() => {
      try {
        return JSON.parse(body) as unknown
      } catch {
        return body
      }
    })()
    print({ status: res.status, ...(body ? { body: parsed } : {}) })
    if (res.status !== 200) process.exitCode = 1
  },
})

/**
 * The store `serve` would open, from the same environment, config file and `--storage`; exits 2 when
 * misconfigured, or when an export names an fs folder that holds no database. An import into an
 * fs folder that has no key yet needs BACKCHANNEL_MASTER_KEY: the folder would otherwise generate
 * a key of its own, which no dump was made with; and one whose key is another is refused.
 */
async function openConfiguredStore(args: { storage?: string; config?: string }, importing = false) {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.env, { BACKCHANNEL_STORAGE: args.storage }, await readConfigFile({ path: args.config }))
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message, 2)
    throw err
  }
  if (config.storage.kind === 'memory') {
    return fail('memory:// holds nothing outside a running gateway: name the storage with --storage', 2)
  }
  const folder = config.storage.kind === 'fs' ? config.storage.path : undefined
  // Opening a folder creates it, a key and a database: a mistyped path would export nothing, exit 0.
  if (!importing && folder !== undefined && !['data.mdb', 'journal'].some((f) => existsSync(join(folder, f)))) {
    return fail(`${describeStorage(config)} holds no Backchannel database (no data.mdb): check the path`, 2)
  }
  if (importing && folder !== undefined) {
    const keyFile = join(folder, 'master.key')
    const folderKey = existsSync(keyFile) ? Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64url') : undefined
    if (!config.masterKey && !folderKey) {
      return fail(`${describeStorage(config)} has no master.key yet: set BACKCHANNEL_MASTER_KEY to the dump's key`, 2)
    }
    // The folder's data (a signing key made at a gateway's start) is sealed under its own key.
    if (config.masterKey && folderKey && !folderKey.equals(config.masterKey)) {
      return fail(
        `BACKCHANNEL_MASTER_KEY is not the key in ${keyFile}, which this folder's secrets are sealed under: ` +
          'import with that key (unset BACKCHANNEL_MASTER_KEY), or into another folder',
        2,
      )
    }
  }
  const where = describeStorage(config)
  const store = await openStore(config).catch((err: Error) => fail(`cannot open ${where}: ${reason(err)}`))
  return { store, where }
}

const storage = {
  storage: { type: 'string', description: 'BACKCHANNEL_STORAGE: fs://PATH, redis://…, mongodb://…, postgres://…' },
  config: {
    type: 'string',
    description: 'BACKCHANNEL_CONFIG: the config file serve reads (default ./backchannel.config.*)',
  },
} as const satisfies ArgsDef

const exportState = defineCommand({
  meta: {
    name: 'export',
    description: 'write the whole state (apps, sessions, revocations, replay claims, audit log) to stdout as NDJSON',
  },
  args: storage,
  async run({ args }) {
    const { store, where } = await openConfiguredStore(args)
    try {
      const { entries } = await exportTo(store, process.stdout)
      process.stderr.write(`backchannel: exported ${entries} entries from ${where}\n`)
    } catch (err) {
      if (err instanceof DumpKeyMismatch) fail(`export refused: ${reason(err)}`, 2)
      fail(`export failed: ${reason(err as Error)}`)
    }
    await store.close()
  },
})

const importState = defineCommand({
  meta: {
    name: 'import',
    description: 'load a dump from stdin (same master key); the whole dump is checked before anything is written',
  },
  args: {
    ...storage,
    merge: { type: 'boolean', description: 'import into a store that already holds state, keeping what is there' },
  },
  async run({ args }) {
    if (process.stdin.isTTY) return fail('pipe a dump into it: backchannel import < dump.ndjson', 2)
    const { store, where } = await openConfiguredStore(args, true)
    try {
      const { entries } = await importFrom(store, process.stdin, { merge: args.merge === true })
      process.stderr.write(`backchannel: imported ${entries} entries into ${where}\n`)
    } catch (err) {
      // The dump's own faults are found before anything is written; the store's may come midway.
      const refused =
        err instanceof DumpInvalid || err instanceof DumpKeyMismatch || err instanceof ImportTargetNotEmpty
      fail(`${refused ? 'import refused, nothing written' : 'import failed'}: ${reason(err as Error)}`)
    }
    await store.close()
  },
})

/** The commands written by hand; beside them, one per procedure of the admin API (cli/admin.ts). */
const handWritten = { serve, token, export: exportState, import: importState, health }

const command = defineCommand({
  meta: { name: 'backchannel', description: 'OpenID Connect Back-Channel Logout gateway' },
  // serve first in the help; a hand-written command wins a name it shares with a procedure.
  subCommands: Object.assign({ serve }, adminCommands(), handWritten),
})

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

/**
 * Runs the CLI with these arguments (without `node` and the script's path).
 *
 * @example
 * ```ts
 * await main(['apps', 'list', '--url', 'http://127.0.0.1:3000'])
 * ```
 */
export function main(argv: string[]): Promise<void> {
  return runCommandTree(command, argv, { name: 'backchannel', version })
}
