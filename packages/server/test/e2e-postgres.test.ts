/**
 * Two gateway processes sharing one real PostgreSQL, each started with
 * BACKCHANNEL_STORAGE=postgres://… (the suite is in fixtures/two-gateways.ts).
 */
import postgres from 'postgres'
import { inject } from 'vitest'
import { describeTwoGateways } from './fixtures/two-gateways.js'
import './setup/provided.js'

const postgresUrl = inject('postgresUrl')
if (!postgresUrl)
  console.warn(
    '\n⚠ SKIPPING the two-instance PostgreSQL test: PostgreSQL is not installed (apt-get install -y postgresql).\n',
  )

/** A database of its own: the gateways create their schema in it at start. */
async function freshDatabase(url: string): Promise<string> {
  const name = `e2e_${Date.now()}`
  const sql = postgres(url)
  try {
    await sql`CREATE DATABASE ${sql(name)}`
  } finally {
    await sql.end()
  }
  return url.replace(/\/[^/]*$/, `/${name}`)
}

describeTwoGateways('two gateways on one PostgreSQL', postgresUrl ? () => freshDatabase(postgresUrl) : undefined)
