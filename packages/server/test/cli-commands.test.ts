/** The CLI's commands and flags as derived from the admin router, read in process. */
import { appRouter } from '@backchannel/admin'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { adminCommands } from '../src/cli/admin.js'
import { type Flags, parseFlags } from '../src/cli/flags.js'
import { type Command, renderHelp, resolveCommand } from '../src/cli/help.js'
import { colours } from '../src/cli/output.js'
import { assembleInput } from '../src/cli/schema-flags.js'

const words = (path: string) =>
  path === 'audit.list' ? ['audit'] : path.split('.').map((w) => w.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))

function find(tree: Record<string, Command>, path: string[]): Command | undefined {
  let command: Command | undefined = { subCommands: tree }
  for (const word of path) command = (command?.subCommands as Record<string, Command> | undefined)?.[word]
  return command
}

describe('every procedure of the router is a command', () => {
  const tree = adminCommands()

  it('at its path in kebab case, with a flag per field of its input', async () => {
    const paths = Object.keys(appRouter._def.procedures)
    expect(paths.length).toBeGreaterThanOrEqual(15)
    for (const path of paths) {
      const command = find(tree, words(path))
      expect(command?.run, path).toBeTypeOf('function')
      const { flags } = await resolveCommand(command as Command)
      expect(Object.keys(flags), path).toEqual(expect.arrayContaining(['url', 'token']))
    }
    const create = (await resolveCommand(find(tree, ['apps', 'create']) as Command)).flags
    expect(Object.keys(create)).toEqual([
      'name',
      'issuer',
      'client-id',
      'alg',
      'max-token-age',
      'clock-tolerance',
      'allow-missing-exp',
      'logout-scope',
      'policy-audience',
      'policy-issuer',
      'relay-wait-ms',
      'relays',
      'url',
      'token',
    ])
    expect(create.name).toMatchObject({ required: true })
    expect(create.alg).toMatchObject({ type: 'enum', multiple: true, alias: 'algorithms' })
    expect(create['logout-scope']).toMatchObject({ type: 'enum', options: ['session', 'user'] })
    const register = (await resolveCommand(find(tree, ['sessions', 'register']) as Command)).flags
    expect(register).toMatchObject({
      app: { required: true },
      'session-id': { required: true },
      sub: { required: true },
    })
    expect(register.sid).toMatchObject({ required: false })
  })

  it('a procedure added later, with a union, an enum and a list of objects, needs no CLI edit', async () => {
    // Any validator speaking Standard JSON Schema describes itself the way zod 4 does.
    const describes = (schema: object) => ({ '~standard': { jsonSchema: { input: () => schema } } })
    const router = {
      _def: {
        procedures: {
          'relays.retry': {
            _def: {
              type: 'mutation',
              inputs: [
                describes({
                  anyOf: [
                    { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
                    {
                      type: 'object',
                      properties: { app: { type: 'string' }, state: { type: 'string', const: 'dead' } },
                      required: ['app', 'state'],
                    },
                  ],
                }),
              ],
            },
          },
          'streams.add': {
            _def: {
              type: 'mutation',
              inputs: [
                describes({
                  type: 'object',
                  properties: {
                    url: { type: 'string' },
                    maxEvents: { type: 'integer' },
                    receivers: { type: 'array', items: { type: 'object' } },
                  },
                  required: ['url'],
                }),
              ],
            },
          },
        },
      },
    }
    const derived = adminCommands(router)
    const retry = await resolveCommand(find(derived, ['relays', 'retry']) as Command)
    expect(retry.flags).toMatchObject({ id: { required: false }, app: {}, state: { type: 'enum', options: ['dead'] } })
    const add = await resolveCommand(find(derived, ['streams', 'add']) as Command)
    // "url" is the connection flag: the field's flag steps aside.
    expect(add.flags).toMatchObject({ 'input-url': { required: true }, 'max-events': { valueHint: 'integer' } })
    const values = parseFlags(add.flags, ['--input-url', 'https://x', '--max-events', '5', '--receivers', '[{"a":1}]'])
    expect(values).toEqual({ 'input-url': 'https://x', 'max-events': 5, receivers: [{ a: 1 }] })
    expect(() => parseFlags(add.flags, ['--input-url', 'u', '--receivers', '[{'])).toThrow(/--receivers: expected JSON/)
  })

  it('a validator that cannot describe itself takes its whole input as --input JSON', async () => {
    const opaque = { '~standard': { validate: (value: unknown) => ({ value }) } }
    const router = { _def: { procedures: { 'keys.rotate': { _def: { type: 'mutation', inputs: [opaque] } } } } }
    const rotate = await resolveCommand(find(adminCommands(router), ['keys', 'rotate']) as Command)
    expect(Object.keys(rotate.flags)).toEqual(['input', 'url', 'token'])
    const values = parseFlags(rotate.flags, ['--input', '{"kid":"k1"}'])
    expect(assembleInput([{ path: [], flag: 'input', schema: {}, required: false }], values)).toEqual({ kid: 'k1' })
  })
})

describe('parseFlags', () => {
  const flags: Flags = {
    alg: { type: 'enum', options: ['HS256', 'HS384', 'HS512'], multiple: true, alias: 'algorithms' },
    grace: { type: 'string', parse: (text) => Number(text) },
    'allow-missing-exp': { type: 'boolean' },
    issuer: { type: 'string' },
  }

  it('reads repeated, comma-separated, aliased, negated and negative values', () => {
    expect(
      parseFlags(flags, ['--alg=HS256,HS384', '--algorithms', 'HS512', '--no-allow-missing-exp', '--grace', '-5']),
    ).toEqual({ alg: ['HS256', 'HS384', 'HS512'], 'allow-missing-exp': false, grace: -5 })
  })

  it('refuses slips with the closest flag, and values missing or out of the enum', () => {
    expect(() => parseFlags(flags, ['--isuer', 'x'])).toThrow('unknown flag --isuer; did you mean --issuer?')
    expect(() => parseFlags(flags, ['--zzzzzz'])).toThrow(/^unknown flag --zzzzzz$/)
    expect(() => parseFlags(flags, ['--issuer'])).toThrow('--issuer needs a value')
    expect(() => parseFlags(flags, ['--issuer', '--grace', '1'])).toThrow('--issuer needs a value')
    expect(() => parseFlags(flags, ['--alg', 'HS256,RS256'])).toThrow(
      '--alg: "RS256" is not one of HS256, HS384, HS512',
    )
    expect(() => parseFlags(flags, ['--allow-missing-exp=yes'])).toThrow(/on or off/)
  })
})

describe('colours', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })
  const terminal = { isTTY: true } as NodeJS.WriteStream

  it('only on a terminal, and never under NO_COLOR', () => {
    vi.stubEnv('NO_COLOR', '')
    expect(colours(terminal).bold('x')).toBe('\u001b[1mx\u001b[22m')
    expect(colours({ isTTY: false } as NodeJS.WriteStream).bold('x')).toBe('x')
    vi.stubEnv('NO_COLOR', '1')
    expect(colours(terminal).bold('x')).toBe('x')
  })

  it('help in a pipe is plain text', async () => {
    const help = renderHelp(['backchannel', 'audit'], await resolveCommand(adminCommands().audit as Command))
    expect(help).toMatch(/^Usage: backchannel audit \[flags\]\n/)
    expect(help).not.toContain('\u001b[')
  })
})
