/** Types of postgres-server.js: a real PostgreSQL server of its own, for tests and benchmarks. */

/** A running server made by {@link startPostgres}. */
export interface PostgresProcess {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication). */
  url: string
  port: number
  /** The server's major version (15 for PostgreSQL 15.x). */
  version: number
  /** The postmaster's process id (a new one after {@link restart}). */
  readonly pid: number | undefined
  /** Stops the server and keeps its data folder (so {@link restart} finds the same data). */
  stop(): Promise<void>
  /** Starts the server again on the same port and data folder. */
  restart(): Promise<void>
  /** Stops the server and removes its data folder. */
  remove(): Promise<void>
}

/** The newest installed PostgreSQL's server binaries (`/usr/lib/postgresql/N/bin`) and major version. */
export function postgresBin(): { bin: string; version: number } | undefined

/**
 * Makes a cluster in a fresh temporary folder and starts it on a free loopback port; it is killed
 * if this process exits first.
 *
 * @param options.settings Server settings as `name=value`, each passed as `-c` (e.g. `fsync=off`).
 * @example
 * ```ts
 * const postgres = await startPostgres({ settings: ['fsync=off'] })
 * console.log(postgres.url)
 * await postgres.remove()
 * ```
 */
export function startPostgres(options?: { settings?: string[] }): Promise<PostgresProcess>
