/**
 * The operations of a tRPC router's procedures, read from what tRPC v11 keeps of each at run time:
 * its type, its input and output zod schemas, and the role its meta declares.
 */
import { z } from 'zod'
import { type AdminMeta, ROLE_TOKENS } from '../trpc.js'
import { type JsonSchema, successEnvelope } from './openapi-envelopes.js'

/** What tRPC v11 keeps of a procedure at run time. */
interface ProcedureDef {
  type: 'query' | 'mutation' | 'subscription'
  inputs: unknown[]
  output?: unknown
  meta?: AdminMeta
}

/** Who may call, by role: the sentence each operation's description starts with. */

function zodSchema(path: string, parser: unknown): z.ZodType {
  if (!(parser instanceof z.ZodType)) throw new TypeError(`${path}: describable only with zod schemas`)
  return parser
}

/** The zod schema of a procedure's input: tRPC parses each `.input()` on the whole input and merges the results. */
function inputOf(path: string, def: ProcedureDef): z.ZodType | undefined {
  const inputs = def.inputs.map((input) => zodSchema(path, input))
  if (inputs.length <= 1) return inputs[0]
  if (!inputs.every((i) => i instanceof z.ZodObject)) throw new TypeError(`${path}: chained inputs must be objects`)
  return (inputs as z.ZodObject[]).reduce((merged, next) => merged.extend(next.shape))
}

/** JSON Schema of `schema` as it is sent (`input`) or answered (`output`); throws on a type JSON cannot carry. */
function jsonSchema(path: string, schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  try {
    const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io })
    return rest
  } catch (cause) {
    throw new TypeError(`${path}: its ${io} cannot be described as JSON (${(cause as Error).message})`, { cause })
  }
}

/** The operation of one procedure; `errorStatuses` have their responses in `components.responses` as `Error<status>`. */
function operation(path: string, def: ProcedureDef, errorStatuses: string[]): Record<string, unknown> {
  const input = inputOf(path, def)
  const inputSchema = input && { 'application/json': { schema: jsonSchema(path, input, 'input') } }
  const required = input !== undefined && !input.safeParse(undefined).success
  const output = def.output === undefined ? undefined : jsonSchema(path, zodSchema(path, def.output), 'output')
  // A router of other procedures (no AdminMeta) is described as open; the admin API refuses a role-less call.
  const role = def.meta?.role
  const who = role ? `Role \`${role}\`: ${ROLE_TOKENS[role]}.` : 'No token needed.'
  const errors = errorStatuses
    .filter((status) => (role ? role !== 'any' || status !== '403' : status !== '401' && status !== '403'))
    .map((status) => [status, { $ref: `#/components/responses/Error${status}` }])
  return {
    operationId: path,
    summary: `${path} (${def.type})`,
    description: output ? who : `${who} The answer's shape is not described: the router declares no output schema.`,
    tags: [path.split('.')[0]],
    ...(role && { 'x-backchannel-role': role }),
    security: role ? [{ bearer: [] }] : [],
    ...(def.type === 'query'
      ? inputSchema && {
          parameters: [
            { name: 'input', in: 'query', required, description: 'The input as JSON', content: inputSchema },
          ],
        }
      : inputSchema && { requestBody: { required, content: inputSchema } }),
    responses: {
      200: {
        description: 'The answer, in `result.data`',
        content: { 'application/json': { schema: successEnvelope(output) } },
      },
      ...Object.fromEntries(errors),
    },
  }
}

/**
 * The `paths` of an OpenAPI document: each procedure of `router` at `<endpoint>/<path>`, its query
 * as `get`, its mutation as `post`; `errorStatuses` are in `components.responses` as `Error<status>`.
 */
export function describePaths(router: { _def: { procedures: object } }, endpoint: string, errorStatuses: string[]) {
  // Flat at run time (`'apps.create'` → procedure), whatever tRPC's types say.
  const procedures = router._def.procedures as Record<string, { _def: ProcedureDef }>
  const paths: Record<string, Record<string, Record<string, unknown>>> = {}
  for (const [path, { _def: def }] of Object.entries(procedures)) {
    // Subscriptions need a streaming client (SSE): not callable as plain JSON, so not described.
    if (def.type === 'subscription') continue
    paths[`${endpoint}/${path}`] = { [def.type === 'query' ? 'get' : 'post']: operation(path, def, errorStatuses) }
  }
  return paths
}
