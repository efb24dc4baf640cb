// Applies a JSON file of applications to a gateway, idempotently: creates what is missing,
// updates what changed, leaves the rest. Secrets are printed only for HMAC apps it created.
// Applications not in the file are reported, never deleted.
//
//   BACKCHANNEL_URL=http://localhost:3000 BACKCHANNEL_ADMIN_TOKEN=… node apply.js apps.json
import { readFile } from 'node:fs/promises'
import { createAdminClient } from '@backchannel/admin/client'

/** Applies `wanted` (the parsed file) with `admin`; returns what happened to each app. */
export async function apply(admin, wanted) {
  const existing = new Map((await admin.apps.list.query()).map((app) => [app.name, app]))
  const report = { created: [], updated: [], unchanged: [], unmanaged: [], secrets: {}, apiKeys: {} }
  for (const spec of wanted) {
    const current = existing.get(spec.name)
    existing.delete(spec.name)
    if (!current) {
      const { secret, apiKey } = await admin.apps.create.mutate(spec)
      report.created.push(spec.name)
      report.apiKeys[spec.name] = apiKey
      if (secret) report.secrets[spec.name] = secret
      continue
    }
    if (spec.issuer !== undefined && spec.issuer !== current.issuer) {
      throw new Error(`${spec.name}: the issuer cannot change in place; delete and recreate the app`)
    }
    const change = {}
    if (spec.clientId !== undefined && spec.clientId !== current.clientId) change.clientId = spec.clientId
    if (spec.algorithms && !same(spec.algorithms, current.algorithms)) change.algorithms = spec.algorithms
    if (spec.policy && !same({ ...current.policy, ...spec.policy }, current.policy)) change.policy = spec.policy
    if (Object.keys(change).length === 0) report.unchanged.push(spec.name)
    else {
      await admin.apps.update.mutate({ name: spec.name, ...change })
      report.updated.push(spec.name)
    }
  }
  report.unmanaged = [...existing.keys()]
  return report
}

const same = (a, b) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
const sortKeys = (v) =>
  Array.isArray(v) || typeof v !== 'object' || v === null
    ? v
    : Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y)))

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ?? 'apps.json'
  const admin = createAdminClient({
    url: `${(process.env.BACKCHANNEL_URL ?? 'http://localhost:3000').replace(/\/$/, '')}/trpc`,
    token: process.env.BACKCHANNEL_ADMIN_TOKEN ?? '',
  })
  const report = await apply(admin, JSON.parse(await readFile(file, 'utf8')))
  console.log(JSON.stringify(report, null, 2))
  if (Object.keys(report.secrets).length) console.error('Store the new secrets now: they are not shown again.')
}
