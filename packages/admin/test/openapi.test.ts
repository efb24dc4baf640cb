/**
 * The OpenAPI document: valid OpenAPI 3.1 by a validator tested on thousands of real APIs, one
 * operation per procedure of the router, inputs from the procedures' own zod schemas, and every
 * tRPC code the admin sources can answer with documented. Calling the API as the document says
 * is tested over HTTP in @backchannel/server (openapi.test.ts).
 */
import { readdir, readFile } from 'node:fs/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import { initTRPC } from '@trpc/server'
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { describePaths } from '../src/_internal/openapi-paths.js'
import { appRouter } from '../src/index.js'
import { openApiDocument } from '../src/openapi.js'
import { adminProcedure, authenticatedProcedure, router } from '../src/trpc.js'

const doc = openApiDocument()
type Operation = {
  operationId: string
  description: string
  security: unknown[]
  parameters?: { name: string; in: string; required: boolean; content: Record<string, { schema: Schema }> }[]
  requestBody?: { required: boolean; content: Record<string, { schema: Schema }> }
  responses: Record<string, { $ref?: string }>
}
type Schema = { required?: string[]; properties?: Record<string, Schema>; additionalProperties?: boolean }
const op = (path: string) => {
  const item = doc.paths[`/trpc/${path}`] as Record<string, Operation>
  const [method, operation] = Object.entries(item)[0] as [string, Operation]
  return { method, operation }
}

describe('openApiDocument', () => {
  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator()
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
    // The validator does refuse a broken copy (a parameter without `in`).
    const broken = structuredClone(doc) as unknown as { paths: Record<string, { get: { parameters: object[] } }> }
    broken.paths['/trpc/apps.get'] = {
      get: { ...broken.paths['/trpc/apps.get']?.get, parameters: [{ name: 'input' }] },
    }
    expect((await new Validator().validate(broken)).valid).toBe(false)
  })

  it('has one operation per procedure: a query is GET with ?input=, a mutation POST with a JSON body', () => {
    const procedures = Object.entries(
      appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
    )
    expect(procedures.length).toBeGreaterThan(10)
    expect(Object.keys(doc.paths).sort()).toEqual(procedures.map(([path]) => `/trpc/${path}`).sort())
    for (const [path, { _def }] of procedures as [string, { _def: { type: string; inputs: unknown[] } }][]) {
      const { method, operation } = op(path)
      expect(operation.operationId).toBe(path)
      if (_def.type === 'query') {
        expect(method).toBe('get')
        // A query without input (whoami) takes no parameter.
        if (_def.inputs.length === 0) {
          expect(operation.parameters ?? []).toEqual([])
          continue
        }
        expect(operation.parameters?.[0]).toMatchObject({ name: 'input', in: 'query' })
        expect(operation.parameters?.[0]?.content).toHaveProperty(['application/json', 'schema'])
      } else {
        expect(method).toBe('post')
        expect(operation.requestBody?.content).toHaveProperty(['application/json', 'schema'])
      }
    }
  })

  it("takes each input from the procedure's zod schemas, chained inputs merged as tRPC merges them", () => {
    const create = op('apps.create').operation.requestBody
    expect(create?.required).toBe(true)
    expect(create?.content['application/json']?.schema).toMatchObject({
      required: ['name'],
      additionalProperties: false,
      properties: { name: { pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }, policy: { additionalProperties: false } },
    })
    // sessions.* chain `{ app }` (the procedure that checks access) and their own fields.
    const status = op('sessions.status').operation.parameters?.[0]
    expect(status?.required).toBe(true)
    expect(status?.content['application/json']?.schema.required).toEqual(['app', 'sessionId'])
    // apps.list's input is optional: `?input=` may be left out.
    expect(op('apps.list').operation.parameters?.[0]?.required).toBe(false)
  })

  it('says which role each procedure needs (x-backchannel-role and a line), and describes errors by status', () => {
    expect(op('apps.create').operation.description).toMatch(/^Role `admin`: the admin token only\./)
    expect(op('sessions.register').operation.description).toMatch(
      /^Role `owner`: the admin token, or the API key of the application the input names/,
    )
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: { role?: string } } }>
    for (const [path, { _def }] of Object.entries(procedures)) {
      const { operation } = op(path) as { operation: Operation & { 'x-backchannel-role'?: string } }
      expect(operation['x-backchannel-role'], path).toBe(_def.meta?.role)
      expect(['admin', 'owner', 'any']).toContain(operation['x-backchannel-role'])
    }
    expect((op('whoami').operation as unknown as Record<string, unknown>)['x-backchannel-role']).toBe('any')
    expect(op('whoami').operation.responses['403']).toBeUndefined()
    for (const path of ['apps.create', 'sessions.status']) {
      const { operation } = op(path)
      expect(operation.security).toEqual([{ bearer: [] }])
      expect(operation.responses['401']).toEqual({ $ref: '#/components/responses/Error401' })
      expect(operation.responses['400']).toEqual({ $ref: '#/components/responses/Error400' })
    }
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' } })
  })

  it('documents every tRPC code the admin sources name, under its HTTP status', async () => {
    const documented = new Map<string, number>()
    for (const [name, response] of Object.entries(doc.components.responses as Record<string, unknown>)) {
      const data = (response as { content: Record<string, { schema: Schema }> }).content['application/json']?.schema
        .properties?.error?.properties?.data?.properties as Record<string, { enum: (string | number)[] }>
      for (const code of data.code?.enum ?? []) documented.set(String(code), Number(name.replace('Error', '')))
      expect(data.httpStatus?.enum).toEqual([Number(name.replace('Error', ''))])
    }
    const src = new URL('../src/', import.meta.url)
    const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts'))
    const named = new Set<string>()
    for (const file of files) {
      for (const [, code] of (await readFile(new URL(file, src), 'utf8')).matchAll(/'([A-Z_]{4,})'/g)) {
        if (code && code in TRPC_ERROR_CODES_BY_KEY) named.add(code)
      }
    }
    expect(named).toContain('CONFLICT')
    expect(named).toContain('SERVICE_UNAVAILABLE')
    for (const code of named) expect(documented.get(code), `${code} is not documented`).toBeDefined()
    expect(documented.get('UNAUTHORIZED')).toBe(401)
    expect(documented.get('UNSUPPORTED_MEDIA_TYPE')).toBe(415)
  })

  it('is generated once: the same frozen object every call', () => {
    expect(openApiDocument()).toBe(doc)
    expect(Object.isFrozen(doc.paths)).toBe(true)
  })
})

describe('a procedure added later is described with no edit', () => {
  const later = router({
    relays: router({
      list: authenticatedProcedure
        .input(z.object({ app: z.string() }))
        .output(z.array(z.object({ id: z.string(), attempts: z.number().int() })))
        .query(() => []),
      retry: adminProcedure.input(z.object({ id: z.string() })).mutation(() => ({ retried: true })),
    }),
  })
  const paths = describePaths(later, '/trpc', ['400', '401', '403']) as Record<string, Record<string, Operation>>

  it('with its declared output schema inside the envelope, and its role', () => {
    const list = paths['/trpc/relays.list']?.get
    expect(list?.description).toMatch(/^Role `any`/)
    expect(list?.description).not.toMatch(/not described/)
    expect(list?.responses['200']).toMatchObject({
      content: {
        'application/json': {
          schema: {
            properties: {
              result: {
                required: ['data'],
                properties: { data: { type: 'array', items: { required: ['id', 'attempts'] } } },
              },
            },
          },
        },
      },
    })
    const retry = paths['/trpc/relays.retry']?.post
    expect(retry?.description).toMatch(/^Role `admin`: the admin token only\. The answer's shape is not described/)
  })

  it('without a token when it is not built on authenticatedProcedure', () => {
    const t = initTRPC.create()
    const open = describePaths(t.router({ health: t.procedure.query(() => 'ok') }), '/trpc', ['400', '401', '403'])
    const health = open['/trpc/health']?.get as unknown as Operation
    expect(health.security).toEqual([])
    expect(Object.keys(health.responses)).toEqual(['200', '400'])
    expect(health.parameters).toBeUndefined()
  })

  it('refuses an input JSON cannot carry, naming the procedure', () => {
    const dated = router({ at: adminProcedure.input(z.object({ when: z.date() })).query(() => 1) })
    expect(() => describePaths(dated, '/trpc', [])).toThrow(
      /^at: its input cannot be described as JSON \(Date cannot be represented/,
    )
  })
})
