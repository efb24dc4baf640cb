/**
 * `GET /openapi.json` on a real gateway process, and the API called exactly as that document
 * describes it: method, path and how the input travels are read from the document, and each
 * answer is checked against the schema the document gives for its status (Ajv, JSON Schema 2020-12).
 */
import { openApiDocument } from '@backchannel/admin/openapi'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, type GatewayProcess, startGateway } from './fixtures/gateway-process.js'

type Schema = Record<string, unknown>
type Content = Record<string, { schema: Schema }>
interface Operation {
  security: Record<string, string[]>[]
  parameters?: { name: string; in: string; required: boolean; content: Content }[]
  requestBody?: { required: boolean; content: Content }
  responses: Record<string, { $ref?: string; content?: Content }>
}
interface Document {
  paths: Record<string, Record<string, Operation>>
  components: { responses: Record<string, { content: Content }> }
}

let gateway: GatewayProcess
let doc: Document
const ajv = new Ajv2020({ strict: true, allErrors: true })
// The one string format the document uses (relay URLs): what the server parses as a URL.
ajv.addFormat('uri', (value: string) => URL.canParse(value))

beforeAll(async () => {
  gateway = await startGateway()
  const res = await fetch(`${gateway.url}/openapi.json`) // no token: the document holds no secret
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  doc = (await res.json()) as Document
})
afterAll(async () => {
  expect(await gateway?.stop()).toBe(0)
})

/** The operation of `procedure` in the document, with its method. */
function operationOf(procedure: string): [string, Operation] {
  const item = doc.paths[`/trpc/${procedure}`]
  if (!item) throw new Error(`${procedure} is not in the document`)
  return Object.entries(item)[0] as [string, Operation]
}

/** The documented schema of the answer with `status`, its `$ref` followed. */
function responseSchema(operation: Operation, status: number): Schema {
  let response = operation.responses[String(status)]
  if (response?.$ref) response = doc.components.responses[response.$ref.replace('#/components/responses/', '')]
  const schema = response?.content?.['application/json']?.schema
  if (!schema) throw new Error(`status ${status} is not documented`)
  return schema
}

/** The input schema the document gives (the query parameter's or the request body's). */
function inputSchema(operation: Operation): Schema {
  const content = operation.parameters?.find((p) => p.name === 'input')?.content ?? operation.requestBody?.content
  const schema = content?.['application/json']?.schema
  if (!schema) throw new Error('no input schema')
  return schema
}

/** Calls `procedure` built only from the document; resolves with the status and a body checked against its schema. */
async function callAsDocumented(procedure: string, input: unknown, token?: string) {
  const [method, operation] = operationOf(procedure)
  const headers: Record<string, string> = {}
  if (token && operation.security.some((s) => 'bearer' in s)) headers.authorization = `Bearer ${token}`
  let url = `${gateway.url}/trpc/${procedure}`
  let body: string | undefined
  const parameter = operation.parameters?.find((p) => p.in === 'query')
  if (parameter) {
    expect(Object.keys(parameter.content)).toEqual(['application/json'])
    url += `?${parameter.name}=${encodeURIComponent(JSON.stringify(input))}`
  } else if (operation.requestBody) {
    const [type] = Object.keys(operation.requestBody.content)
    headers['content-type'] = type as string
    body = JSON.stringify(input)
  }
  const res = await fetch(url, { method: method.toUpperCase(), headers, body })
  const json = (await res.json()) as Record<string, unknown>
  const validate = ajv.compile(responseSchema(operation, res.status))
  expect(validate(json), `${procedure} ${res.status}: ${ajv.errorsText(validate.errors)}`).toBe(true)
  return { status: res.status, json }
}

/** Whether the document's input schema of `procedure` accepts `input`. */
const documentedInputAccepts = (procedure: string, input: unknown) =>
  ajv.compile(inputSchema(operationOf(procedure)[1]))(input)

describe('GET /openapi.json', () => {
  it('is the document @backchannel/admin/openapi generates, its schemas all valid JSON Schema 2020-12', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument())))
    for (const [, item] of Object.entries(doc.paths)) {
      const [, operation] = Object.entries(item)[0] as [string, Operation]
      // A procedure without input (whoami) documents none.
      if (operation.parameters?.length || operation.requestBody) ajv.compile(inputSchema(operation))
      for (const status of Object.keys(operation.responses)) ajv.compile(responseSchema(operation, Number(status)))
    }
  })
})

describe('the API called as the document describes it', () => {
  it('a mutation (apps.create) and a query (apps.get, apps.list) answer in the documented envelope', async () => {
    const input = { name: 'billing', policy: { maxTokenAge: 120 } }
    expect(documentedInputAccepts('apps.create', input)).toBe(true)
    const created = await callAsDocumented('apps.create', input, ADMIN_TOKEN)
    expect(created.status).toBe(200)
    expect(created.json).toMatchObject({ result: { data: { app: { name: 'billing', kind: 'hmac' } } } })

    const got = await callAsDocumented('apps.get', { name: 'billing' }, ADMIN_TOKEN)
    expect(got).toMatchObject({ status: 200, json: { result: { data: { name: 'billing', policy: input.policy } } } })
    const listed = await callAsDocumented('apps.list', {}, ADMIN_TOKEN)
    expect(listed.status).toBe(200)
    expect((listed.json.result as { data: unknown[] }).data).toHaveLength(1)
  })

  it("sessions.* with the application's own API key: a mutation, then a query with chained inputs", async () => {
    const { json } = await callAsDocumented('apps.create', { name: 'wiki' }, ADMIN_TOKEN)
    const { apiKey } = (json.result as { data: { apiKey: string } }).data
    const registered = await callAsDocumented('sessions.register', { app: 'wiki', sessionId: 's1', sub: 'u1' }, apiKey)
    expect(registered).toMatchObject({ status: 200, json: { result: { data: { sessionId: 's1', sub: 'u1' } } } })
    const status = await callAsDocumented('sessions.status', { app: 'wiki', sessionId: 's1' }, apiKey)
    expect(status).toEqual({ status: 200, json: { result: { data: { state: 'active' } } } })
  })

  it('a bad input: the document rejects it too, and the 400 names the field', async () => {
    const input = { name: 'Bad Name!' }
    expect(documentedInputAccepts('apps.create', input)).toBe(false)
    const { status, json } = await callAsDocumented('apps.create', input, ADMIN_TOKEN)
    expect(status).toBe(400)
    expect(json).toMatchObject({
      error: {
        message: expect.stringMatching(/^name: /),
        data: { code: 'BAD_REQUEST', httpStatus: 400, path: 'apps.create' },
      },
    })
  })

  it('no token: 401 UNAUTHORIZED', async () => {
    const { status, json } = await callAsDocumented('apps.get', { name: 'billing' })
    expect(status).toBe(401)
    expect(json).toMatchObject({ error: { code: -32001, data: { code: 'UNAUTHORIZED', httpStatus: 401 } } })
  })

  it('a taken name (409 CONFLICT) and an unknown application (404 NOT_FOUND) are documented answers too', async () => {
    const conflict = await callAsDocumented('apps.create', { name: 'billing' }, ADMIN_TOKEN)
    expect(conflict.status).toBe(409)
    const missing = await callAsDocumented('apps.get', { name: 'nobody' }, ADMIN_TOKEN)
    expect(missing.status).toBe(404)
  })

  it('an issuer that cannot be reached: 400 with the Backchannel code', async () => {
    const input = { name: 'oidc', issuer: 'https://127.0.0.1:1', clientId: 'c' }
    const { status, json } = await callAsDocumented('apps.create', input, ADMIN_TOKEN)
    expect(status).toBe(400)
    expect(json).toMatchObject({ error: { data: { backchannelCode: expect.stringMatching(/^ERR_ISSUER_/) } } })
  })

  it('what the document warns of (input not JSON, a wrong method, a POST not JSON) gets its documented error', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const cases: [string, RequestInit, number, string][] = [
      ['apps.get?input=%7Bnot-json', { headers: auth }, 400, 'BAD_REQUEST'],
      ['apps.list?connectionParams=1', { headers: auth }, 400, 'PARSE_ERROR'],
      ['apps.delete?input=%7B%7D', { headers: auth }, 405, 'METHOD_NOT_SUPPORTED'],
      ['apps.delete', { method: 'POST', headers: auth, body: '{"name":"billing"}' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ]
    for (const [path, init, status, code] of cases) {
      const res = await fetch(`${gateway.url}/trpc/${path}`, init)
      const json = await res.json()
      expect([res.status, (json as { error: { data: { code: string } } }).error.data.code]).toEqual([status, code])
      const validate = ajv.compile(responseSchema(operationOf(path.split('?')[0] as string)[1], status))
      expect(validate(json), ajv.errorsText(validate.errors)).toBe(true)
    }
  })
})
