/**
 * The admin commands, one per procedure of the admin API, derived from the router: `apps.rotateSecret`
 * is `backchannel apps rotate-secret`, its input's fields are its flags (schema-flags.ts). A procedure
 * added to the router is a command without an edit here; the tables below only word things better.
 * @module
 */
import { appRouter, ROLE_TOKENS, type Role } from '@backchannel/admin'
import { createTRPCUntypedClient, httpLink, TRPCClientError } from '@trpc/client'
import { type Flag, type Flags, type FlagValues, readSecrets } from './flags.js'
import type { Command } from './help.js'
import { CliError, fail, print } from './output.js'
import { assembleInput, flagFor, type InputField, inputFields, inputSchema } from './schema-flags.js'

/** What the CLI reads of a tRPC procedure. */
interface Procedure {
  _def: {
    type: 'query' | 'mutation' | 'subscription'
    inputs: unknown[]
    meta?: { description?: string; role?: Role }
  }
}

/** Command names that differ from the procedure's path. */
const COMMAND_NAMES: Readonly<Record<string, string[]>> = { 'audit.list': ['audit'] }

/** One line per command, where the procedure does not describe itself. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  apps: 'register and manage applications',
  'apps.create': 'register an application: OIDC with --issuer and --client-id (discovery runs now), HMAC without',
  'apps.list': 'list the applications (never a secret)',
  'apps.get': 'show one application',
  'apps.update': "change what an application's tokens must satisfy",
  'apps.delete': 'remove an application with its sessions',
  'apps.rotateSecret': 'issue a new secret to an HMAC application; the previous one verifies until --grace ends',
  'apps.rotateApiKey': 'issue a new API key to an application; the previous one stops working at once',
  'apps.rediscover': "fetch an OIDC application's provider metadata and keys again",
  sessions: 'the session registry of one application',
  'sessions.register': 'record a session your application opened',
  'sessions.status': 'whether a session is active, revoked or unknown',
  'sessions.list': "a user's sessions",
  'sessions.end': 'end one session (a local logout)',
  'sessions.revoke': "end a user's sessions (--sub) or an IdP session's (--sid), as a logout would",
  'audit.list': 'the audit log, newest first',
  streams: 'Shared Signals streams the gateway receives CAEP and RISC events on',
  'streams.create':
    'register a stream from its transmitter (push: prints the push URL and Authorization header, once; or --delivery poll)',
  'streams.list': 'list the streams',
  'streams.get': 'show one stream',
  'streams.delete': 'remove a stream: its push URL answers 404 from then on',
  'streams.connect':
    "create or update the stream at the transmitter's configuration endpoint (push to this gateway, or poll)",
  'streams.verify': 'ask the transmitter for a verification event; streams get shows when it arrived',
  whoami: 'the role of your token: admin, or owner of one application',
}

/** Flag names that read better than the field's (by dotted path or by field name), and their aliases. */
const FLAG_NAMES: Readonly<Record<string, string>> = {
  algorithms: 'alg',
  graceSeconds: 'grace',
  'policy.issuer': 'policy-issuer',
  'policy.audience': 'policy-audience',
}
const FLAG_ALIASES: Readonly<Record<string, string>> = { alg: 'algorithms' }

/** Help of a flag, by dotted path or field name, where the schema has no description. */
const FLAG_HELP: Readonly<Record<string, string>> = {
  name: 'the application name: lowercase letters, digits and "-" (the :app of its logout URL)',
  issuer: 'OIDC: the issuer URL (discovery runs now)',
  clientId: 'OIDC: the client id the provider puts in aud',
  algorithms: 'signature algorithms accepted',
  'policy.maxTokenAge': "seconds a token's iat may lie in the past (default 600)",
  'policy.clockTolerance': 'seconds of clock skew allowed (default 60)',
  'policy.allowMissingExp': 'accept tokens without exp (Ory Hydra, older identity providers)',
  'policy.logoutScope': 'what a logout with sid ends: that session (default), or every session of the user',
  'policy.audience': 'HMAC: the aud your tokens must carry',
  'policy.issuer': 'HMAC: the iss your tokens must carry',
  graceSeconds: 'seconds the previous secret still verifies (default 3600)',
  app: 'the application name',
  sessionId: "your application's id of the session",
  sub: "the user's id (sub)",
  sid: "the identity provider's session id (sid)",
  email: "the user's email address: a Shared Signals event for this email ends the session",
  authTime: 'when the user signed in, seconds since epoch (default now)',
  expiresAt: 'when the session ends, seconds since epoch',
  limit: 'how many records, 1 to 500 (default 50)',
  relays:
    'JSON list of {"url","mode":"forward"|"sign"|"hmac","clientId"?}: where logouts are relayed (replaces the list)',
  'policy.relayWaitMs': 'milliseconds a logout answer waits for its first relay attempts (default 0, at most 5000)',
  state: 'deliveries in this state only',
  id: 'the delivery id (from relays list)',
}

const CONNECTION = new Set(['url', 'token'])

function connectionFlags(role: Role | undefined): Flags {
  const who = ROLE_TOKENS[role ?? 'admin']
  return {
    url: {
      type: 'string',
      valueHint: 'URL',
      description: 'the gateway (default $BACKCHANNEL_URL, else http://localhost:$PORT, else port 3000)',
    },
    token: {
      type: 'string',
      valueHint: 'token',
      description: `${who} (default $BACKCHANNEL_TOKEN, else $BACKCHANNEL_ADMIN_TOKEN)`,
    },
  }
}

/** The commands of every procedure of `router`, grouped as its routers are. */
export function adminCommands(router: { _def: { procedures: object } } = appRouter): Record<string, Command> {
  const tree: Record<string, Command> = {}
  for (const [path, procedure] of Object.entries(router._def.procedures as Record<string, Procedure>)) {
    const { type, inputs, meta } = procedure._def
    if (type === 'subscription') continue
    const words = COMMAND_NAMES[path] ?? path.split('.').map((w) => w.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))
    const description = meta?.description ?? DESCRIPTIONS[path] ?? `the ${path} ${type}`
    const command = leaf(path, type, inputs, description, meta?.role)
    let level = tree
    for (const [i, word] of words.entries()) {
      if (i === words.length - 1) {
        level[word] = command
        break
      }
      const group = path
        .split('.')
        .slice(0, i + 1)
        .join('.')
      level[word] ??= {
        meta: { name: word, description: DESCRIPTIONS[group] ?? `the ${group}.* procedures` },
        subCommands: {},
      }
      level = level[word].subCommands as Record<string, Command>
    }
  }
  return tree
}

/** Input fields that are secrets, with the environment variable each may come from instead of its flag. */
const SECRET_ENV: Readonly<Record<string, string>> = {
  accessToken: 'BACKCHANNEL_ACCESS_TOKEN',
  pollToken: 'BACKCHANNEL_POLL_TOKEN',
}

function leaf(
  path: string,
  type: 'query' | 'mutation',
  inputs: unknown[],
  description: string,
  role: Role | undefined,
): Command {
  const schema = inputSchema(inputs)
  // A validator that cannot describe itself as JSON Schema still takes its whole input, as JSON.
  const whole: InputField = { path: [], flag: 'input', schema: { description: 'the input, as JSON' }, required: false }
  const fields = schema ? inputFields(schema, FLAG_NAMES, CONNECTION) : inputs.length > 0 ? [whole] : []
  const flags: Flags = {}
  for (const field of fields) {
    const help = FLAG_HELP[field.path.join('.')] ?? FLAG_HELP[field.path.at(-1) as string]
    const alias = FLAG_ALIASES[field.flag]
    const flag: Flag = { ...flagFor(field, help), ...(alias ? { alias } : {}) }
    const env = SECRET_ENV[field.path.at(-1) as string]
    if (env) {
      flag.env = env
      flag.description = `${flag.description ?? ''} (default $${env}; - reads it from standard input; a flag's value shows in ps)`
    }
    flags[field.flag] = flag
  }
  return {
    meta: { description },
    args: { ...flags, ...connectionFlags(role) },
    run: async ({ args }: { args: FlagValues }) => {
      await readSecrets(flags, args, process.stdin)
      return call({ path, type, role, fields }, inputs.length > 0 ? assembleInput(fields, args) : undefined, args)
    },
  }
}

/** What a command knows of its procedure. */
interface Target {
  path: string
  type: 'query' | 'mutation'
  role: Role | undefined
  fields: readonly InputField[]
}

/** Calls one procedure over HTTP and prints its answer as JSON. */
async function call({ path, type, role, fields }: Target, input: unknown, args: FlagValues) {
  const base =
    (args.url as string | undefined) ?? process.env.BACKCHANNEL_URL ?? `http://localhost:${process.env.PORT ?? 3000}`
  const from = args.url !== undefined ? '--url' : process.env.BACKCHANNEL_URL ? 'BACKCHANNEL_URL' : 'PORT'
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
    fail(`${from}: ${JSON.stringify(base)} is not the gateway's http(s) URL, e.g. http://localhost:3000`, 2)
  }
  // BACKCHANNEL_TOKEN holds either kind of token; BACKCHANNEL_ADMIN_TOKEN, the server's own, still works.
  const token =
    (args.token as string | undefined) ??
    (process.env.BACKCHANNEL_TOKEN || undefined) ??
    process.env.BACKCHANNEL_ADMIN_TOKEN
  if (!token)
    fail('give --token or set BACKCHANNEL_TOKEN (the admin token or an API key) or BACKCHANNEL_ADMIN_TOKEN', 2)
  const url = base.replace(/\/+$/, '').replace(/(\/trpc)?$/, '/trpc')
  const client = createTRPCUntypedClient({
    links: [httpLink({ url, headers: { authorization: `Bearer ${token}` } })],
  })
  try {
    print(type === 'query' ? await client.query(path, input) : await client.mutation(path, input))
  } catch (err) {
    throw explain(err, url, fields, role)
  }
}

/**
 * One line for a failed call: the API's own code and message, or why the gateway did not answer.
 * A `FORBIDDEN` names the role the command needs (its procedure's meta), read after the call: the
 * gateway alone knows whose the token is.
 */
function explain(err: unknown, url: string, fields: readonly InputField[], role: Role | undefined): CliError {
  if (err instanceof TRPCClientError && typeof err.data?.code === 'string') {
    const needs =
      err.data.code === 'FORBIDDEN' && role ? ` (this command needs role ${role}: ${ROLE_TOKENS[role]})` : ''
    return new CliError(`${err.data.code}: ${withFlags(err.message, fields)}${needs}`)
  }
  // fetch's own failure ("fetch failed") carries the socket's reason in its cause.
  const chain: Error[] = []
  for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(e)
  if (chain.some((e) => e instanceof TypeError && e.message === 'fetch failed')) {
    const last = chain.at(-1) as NodeJS.ErrnoException
    return new CliError(
      `cannot reach the gateway at ${url} (${last.code ?? last.message}): it may not be running; start it with backchannel serve, or point --url or BACKCHANNEL_URL at it`,
    )
  }
  return new CliError(`${url} did not answer as a Backchannel gateway: ${(err as Error).message}`)
}

/** `graceSeconds: Too small` → `graceSeconds (--grace): Too small`: the server names fields, the user typed flags. */
function withFlags(message: string, fields: readonly InputField[]): string {
  return message
    .split('; ')
    .map((part) => {
      const path = part.slice(0, part.indexOf(':'))
      const field = fields.find((f) => f.path.join('.') === path)
      return field && field.flag !== path ? `${path} (--${field.flag})${part.slice(path.length)}` : part
    })
    .join('; ')
}
