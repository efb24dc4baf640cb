/**
 * The JSON around every answer of the admin API, as OpenAPI schemas: tRPC v11's success envelope
 * `{"result":{"data":…}}`, and its error envelope as `errorFormatter` in `trpc.ts` shapes it.
 */
import { TRPCError } from '@trpc/server'
import { getHTTPStatusCodeFromError } from '@trpc/server/http'
import { type TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc'

/** A JSON Schema (2020-12, OpenAPI 3.1's dialect). */
export type JsonSchema = Record<string, unknown>

/**
 * Every tRPC code this gateway answers with, and when. The routers and `trpc.ts` throw some; tRPC
 * itself the parse, method, media type and unknown path ones; core's coded errors map to the
 * 413, 429 and 503 ones. A test reads the admin sources and fails on a code missing here.
 */
export const GATEWAY_ERRORS: Readonly<Partial<Record<TRPC_ERROR_CODE_KEY, string>>> = {
  PARSE_ERROR: "a `connectionParams` query parameter (tRPC's, unused here) that is not a JSON object of strings",
  BAD_REQUEST: 'the input is not JSON, or not valid: the message names the field (`name: …`)',
  UNAUTHORIZED: 'no token, or a token that is neither the admin token nor an API key',
  FORBIDDEN: 'the token may not do this (an API key outside its own application, or an admin-only procedure)',
  NOT_FOUND: 'no application of that name, or no procedure at that path',
  METHOD_NOT_SUPPORTED: 'a query sent as POST or a mutation as GET',
  CONFLICT: 'the name is taken',
  PAYLOAD_TOO_LARGE: 'a part of the request is too large',
  UNSUPPORTED_MEDIA_TYPE: 'a POST without `Content-Type: application/json`',
  TOO_MANY_REQUESTS: 'too many requests; try again later',
  NOT_IMPLEMENTED:
    'a `sessions.*` query or registration on a gateway whose revoker plugin keeps sessions in a store of its own (`ERR_NO_SESSION_REGISTRY`)',
  INTERNAL_SERVER_ERROR: 'a fault of the gateway; the message is always "internal error"',
  SERVICE_UNAVAILABLE: 'the store or an identity provider does not answer; try again later',
}

const codes = Object.keys(GATEWAY_ERRORS) as TRPC_ERROR_CODE_KEY[]
const statusOf = (code: TRPC_ERROR_CODE_KEY) => getHTTPStatusCodeFromError(new TRPCError({ code }))

/** The error envelope whose `data.code` is one of `some` (each with its tRPC status and JSON-RPC number). */
function errorEnvelope(some: readonly TRPC_ERROR_CODE_KEY[]): JsonSchema {
  const data = {
    type: 'object',
    required: ['code', 'httpStatus'],
    additionalProperties: false,
    properties: {
      code: { type: 'string', enum: some },
      httpStatus: { type: 'integer', enum: [...new Set(some.map(statusOf))] },
      path: { type: 'string', description: 'The procedure called (absent when the path named none).' },
      backchannelCode: {
        type: 'string',
        pattern: '^ERR_[A-Z0-9_]+$',
        description: 'The stable code of a Backchannel error behind this one (`ERR_ISSUER_UNREACHABLE`, …).',
      },
    },
  }
  const error = {
    type: 'object',
    required: ['message', 'code', 'data'],
    additionalProperties: false,
    properties: {
      message: { type: 'string' },
      code: { type: 'integer', enum: some.map((c) => TRPC_ERROR_CODES_BY_KEY[c]), description: 'JSON-RPC 2.0 code' },
      data,
    },
  }
  return { type: 'object', required: ['error'], additionalProperties: false, properties: { error } }
}

/** One error response per HTTP status the gateway answers with, keyed by status. */
export function errorResponses(): Record<string, { description: string; content: Record<string, unknown> }> {
  const byStatus = new Map<number, TRPC_ERROR_CODE_KEY[]>()
  for (const code of codes) byStatus.set(statusOf(code), [...(byStatus.get(statusOf(code)) ?? []), code])
  return Object.fromEntries(
    [...byStatus].map(([status, some]) => [
      String(status),
      {
        description: some.map((c) => `${c}: ${GATEWAY_ERRORS[c]}`).join('; '),
        content: { 'application/json': { schema: errorEnvelope(some) } },
      },
    ]),
  )
}

/** The success envelope around `data` (`data` absent when a procedure returns nothing). */
export function successEnvelope(data: JsonSchema | undefined): JsonSchema {
  const result = data
    ? { type: 'object', required: ['data'], additionalProperties: false, properties: { data } }
    : {
        type: 'object',
        additionalProperties: false,
        properties: {
          data: { description: 'Not described here: the router declares no output schema for this procedure.' },
        },
      }
  return { type: 'object', required: ['result'], additionalProperties: false, properties: { result } }
}
