/**
 * The `backchannel` command: `serve`, admin commands over the typed client (`apps`, `sessions`,
 * `audit`), `token`, which mints (and optionally posts) an HMAC logout token, and `export` /
 * `import`, which move the whole state between storage engines (see dump-cli.ts).
 * @module
 */
import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createAdminClient } from '@backchannel/admin/client'
import { mintLogoutToken } from '@backchannel/core/mint'
import { DumpInvalid, DumpKeyMismatch, ImportTargetNotEmpty } from '@backchannel/unstorage'
import { TRPCClientError } from '@trpc/client'
import { type ArgsDef, defineCommand, runMain } from 'citty'
import { ConfigError, type ConfigOverrides, loadConfig } from './config.js'
import { exportTo, importFrom } from './dump-cli.js'
import { health } from './health-cli.js'
import { runServer } from './serve.js'
import { describeStorage, openStore } from './storage.js'
import { runPrimary } from './workers.js'

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
const fail = (message: string, code = 1): never => {
  process.stderr.write(`backchannel: ${message}\n`)
  process.exit(code)
}

/** Flags every admin command takes. */
const connection = {
  url: {
    type: 'string',
    description: 'the gateway (default $BACKCHANNEL_URL or http://localhost:$PORT)',
    valueHint: 'URL',
  },
  token: { type: 'string', description: 'admin token or API key (default $BACKCHANNEL_ADMIN_TOKEN)' },
} as const satisfies ArgsDef

async function withClient(
  args: { url?: string; token?: string },
  call: (client: ReturnType<typeof createAdminClient>) => Promise<unknown>,
) {
  const base = args.url ?? process.env.BACKCHANNEL_URL ?? `http://localhost:${process.env.PORT ?? 3000}`
  const token = args.token ?? process.env.BACKCHANNEL_ADMIN_TOKEN
  if (!token) fail('give --token or set BACKCHANNEL_ADMIN_TOKEN')
  const url = base.replace(/\/+$/, '').replace(/(\/trpc)?$/, '/trpc')
  try {
    print(await call(createAdminClient({ url, token: token as string })))
  } catch (err) {
    if (err instanceof TRPCClientError) fail(`${err.data?.code ?? 'error'}: ${err.message}`)
    fail(`cannot reach ${url}: ${(err as Error).message}`)
  }
}

const name = { type: 'string', required: true, description: 'the application name (its slug)' } as const

const serve = defineCommand({
  meta: { name: 'serve', description: 'run the gateway (flags override the environment)' },
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
    }
    let config: ReturnType<typeof loadConfig>
    try {
      config = loadConfig(process.env, overrides)
    } catch (err) {
      if (err instanceof ConfigError) return fail(err.message, 2)
      throw err
    }
    const start = config.workers > 1 && cluster.isPrimary ? runPrimary : runServer
    await start(config).catch((err: Error) =>
      fail(`cannot start: ${err.message}${err.cause ? ` (${(err.cause as Error).message})` : ''}`),
    )
  },
})

const apps = defineCommand({
  meta: { name: 'apps', description: 'register and manage applications (admin token)' },
  subCommands: {
    create: defineCommand({
      meta: { description: 'register an application: OIDC with --issuer and --client-id, HMAC without' },
      args: {
        ...connection,
        name,
        issuer: { type: 'string', description: 'OIDC: the issuer URL (discovery runs now)' },
        'client-id': { type: 'string', description: 'OIDC: the client id the provider puts in aud' },
        algorithms: { type: 'string', description: 'comma-separated, e.g. RS256,ES256' },
        'allow-missing-exp': { type: 'boolean', description: 'accept tokens without exp (Ory Hydra, older IdPs)' },
      },
      run: ({ args }) =>
        withClient(args, (c) =>
          c.apps.create.mutate({
            name: args.name,
            ...(args.issuer ? { issuer: args.issuer } : {}),
            ...(args['client-id'] ? { clientId: args['client-id'] } : {}),
            ...(args.algorithms ? { algorithms: args.algorithms.split(',') as never } : {}),
            ...(args['allow-missing-exp'] ? { policy: { allowMissingExp: true } } : {}),
          }),
        ),
    }),
    list: defineCommand({
      meta: { description: 'list applications' },
      args: connection,
      run: ({ args }) => withClient(args, (c) => c.apps.list.query()),
    }),
    get: defineCommand({
      meta: { description: 'show one application' },
      args: { ...connection, name },
      run: ({ args }) => withClient(args, (c) => c.apps.get.query({ name: args.name })),
    }),
    delete: defineCommand({
      meta: { description: 'remove an application with its sessions' },
      args: { ...connection, name },
      run: ({ args }) => withClient(args, (c) => c.apps.delete.mutate({ name: args.name })),
    }),
    'rotate-secret': defineCommand({
      meta: { description: 'issue a new secret to an HMAC application; the old one works until the grace ends' },
      args: {
        ...connection,
        name,
        grace: { type: 'string', description: 'seconds the previous secret still verifies (default 3600)' },
      },
      run: ({ args }) =>
        withClient(args, (c) =>
          c.apps.rotateSecret.mutate({ name: args.name, ...(args.grace ? { graceSeconds: Number(args.grace) } : {}) }),
        ),
    }),
  },
})

const sessions = defineCommand({
  meta: { name: 'sessions', description: 'the session registry' },
  subCommands: {
    revoke: defineCommand({
      meta: { description: "end a user's sessions (--sub) or an IdP session's (--sid), as a logout would" },
      args: {
        ...connection,
        app: { type: 'string', required: true },
        sub: { type: 'string' },
        sid: { type: 'string' },
      },
      run: ({ args }) =>
        withClient(args, (c) =>
          c.sessions.revoke.mutate({
            app: args.app,
            ...(args.sub ? { sub: args.sub } : {}),
            ...(args.sid ? { sid: args.sid } : {}),
          }),
        ),
    }),
  },
})

const audit = defineCommand({
  meta: { name: 'audit', description: 'the audit log, newest first' },
  args: { ...connection, app: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' } },
  run: ({ args }) =>
    withClient(args, (c) =>
      c.audit.list.query({
        ...(args.app ? { app: args.app } : {}),
        ...(args.limit ? { limit: Number(args.limit) } : {}),
        ...(args.before ? { before: args.before } : {}),
      }),
    ),
})

const token = defineCommand({
  meta: { name: 'token', description: 'mint an HMAC logout token (and post it with --send)' },
  args: {
    app: { type: 'string', required: true, description: 'the application name' },
    secret: { type: 'string', description: 'the secret the gateway issued (default $BACKCHANNEL_SECRET)' },
    sub: { type: 'string', description: "the user's id" },
    sid: { type: 'string', description: 'the session id' },
    alg: { type: 'string', description: 'HS256 (default), HS384 or HS512' },
    iss: { type: 'string' },
    aud: { type: 'string' },
    send: { type: 'string', description: 'post it to this gateway (base URL or full logout URL)', valueHint: 'URL' },
  },
  async run({ args }) {
    const secret = args.secret ?? process.env.BACKCHANNEL_SECRET
    if (!secret) return fail('give --secret or set BACKCHANNEL_SECRET')
    if (!args.sub && !args.sid) return fail('give --sub or --sid')
    const logoutToken = await mintLogoutToken({
      secret,
      ...(args.sub ? { sub: args.sub } : {}),
      ...(args.sid ? { sid: args.sid } : {}),
      ...(args.alg ? { alg: args.alg as 'HS256' } : {}),
      ...(args.iss ? { iss: args.iss } : {}),
      ...(args.aud ? { aud: args.aud } : {}),
    })
    if (!args.send) return void process.stdout.write(`${logoutToken}\n`)
    const target = args.send.includes('/auth/logout/')
      ? args.send
      : `${args.send.replace(/\/+$/, '')}/auth/logout/${encodeURIComponent(args.app)}`
    const res = await fetch(target, { method: 'POST', body: new URLSearchParams({ logout_token: logoutToken }) }).catch(
      (err: Error) => fail(`cannot reach ${target}: ${err.message}`),
    )
    const body = await res.text()
    print({ status: res.status, ...(body ? { body: JSON.parse(body) as unknown } : {}) })
    if (res.status !== 200) process.exit(1)
  },
})

/**
 * The store `serve` would open, from the same environment and `--storage`; exits 2 when
 * misconfigured. An import into an fs folder that has no key yet needs BACKCHANNEL_MASTER_KEY:
 * the folder would otherwise generate a key of its own, which no dump was made with.
 */
async function openConfiguredStore(storage: string | undefined, importing = false) {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.env, { BACKCHANNEL_STORAGE: storage })
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message, 2)
    throw err
  }
  if (config.storage.kind === 'memory') {
    return fail('memory:// holds nothing outside a running gateway: name the storage with --storage', 2)
  }
  if (
    importing &&
    config.storage.kind === 'fs' &&
    !config.masterKey &&
    !existsSync(join(config.storage.path, 'master.key'))
  ) {
    return fail(`${describeStorage(config)} has no master.key yet: set BACKCHANNEL_MASTER_KEY to the dump's key`, 2)
  }
  const where = describeStorage(config)
  const store = await openStore(config).catch((err: Error) => fail(`cannot open ${where}: ${reason(err)}`))
  return { store, where }
}
const reason = (err: Error) => `${err.message}${err.cause ? ` (${(err.cause as Error).message})` : ''}`

const storage = {
  storage: { type: 'string', description: 'BACKCHANNEL_STORAGE: fs://PATH, redis://…, mongodb://…, postgres://…' },
} as const satisfies ArgsDef

const exportState = defineCommand({
  meta: {
    name: 'export',
    description: 'write the whole state (apps, sessions, revocations, replay claims, audit log) to stdout as NDJSON',
  },
  args: storage,
  async run({ args }) {
    const { store, where } = await openConfiguredStore(args.storage)
    try {
      const { entries } = await exportTo(store, process.stdout)
      process.stderr.write(`backchannel: exported ${entries} entries from ${where}\n`)
    } catch (err) {
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
    merge: { type: 'boolean', description: 'import into a store that already holds applications, over what is there' },
  },
  async run({ args }) {
    if (process.stdin.isTTY) return fail('pipe a dump into it: backchannel import < dump.ndjson', 2)
    const { store, where } = await openConfiguredStore(args.storage, true)
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

const command = defineCommand({
  meta: { name: 'backchannel', description: 'OpenID Connect Back-Channel Logout gateway' },
  subCommands: { serve, apps, sessions, audit, token, export: exportState, import: importState, health },
})

/** Runs the CLI with these arguments. */
export function main(argv: string[]): Promise<void> {
  return runMain(command, { rawArgs: argv })
}
