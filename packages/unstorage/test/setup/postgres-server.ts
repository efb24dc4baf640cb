/**
 * Starts and stops real PostgreSQL servers (Debian's `postgresql` package) on free loopback
 * ports, each with a fresh cluster in a temporary folder, for tests.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './redis-server.js'

export interface PostgresProcess {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication). */
  url: string
  port: number
  /** Stops the server and keeps its data folder (so {@link restart} finds the same data). */
  stop(): Promise<void>
  /** Starts the server again on the same port and data folder. */
  restart(): Promise<void>
  /** Stops the server and removes its data folder. */
  remove(): Promise<void>
}

/** The folder of the newest installed PostgreSQL's server binaries, or `undefined`. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin')
}

/** The uid and gid of the `postgres` user: initdb and postgres refuse to run as root. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined // not root: run as ourselves
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}

/** Makes a cluster in a fresh temporary folder and starts it on a free loopback port. */
export async function startPostgres(): Promise<PostgresProcess> {
  const bin = postgresBin()
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)')
  const user = postgresUser()
  const dir = mkdtempSync(join(tmpdir(), 'bc-pg-'))
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const as = { ...user, env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' } }
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], {
    ...as,
    stdio: 'ignore',
  })
  const port = await freePort()
  let child: ChildProcess | undefined

  const start = async () => {
    const server = spawn(
      join(bin, 'postgres'),
      // A throwaway cluster: durability settings off, a unix socket in its own folder.
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
    )
    child = server
    let output = ''
    server.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk).slice(-4000)
    })
    const deadline = Date.now() + 15_000
    for (;;) {
      if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode}: ${output}`)
      try {
        execFileSync(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
        return
      } catch {
        if (Date.now() > deadline) throw new Error(`postgres did not start on ${port}: ${output}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGINT') // fast shutdown: connections are cut, nothing waits for clients
    })

  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    restart: start,
    async remove() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
