/**
 * A real PostgreSQL server of its own (Debian's `postgresql` package), for the tests and the
 * benchmarks alike: a fresh cluster in a temporary folder, on a free loopback port, trust
 * authentication for the user `postgres`. Plain JavaScript so that `bench/` runs it under node
 * as it is; the types are in postgres-server.d.ts. Not part of any published package.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

// Killed when this process exits, also half-way through: an orphaned server holds its port and folder.
const running = new Set()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** The newest installed PostgreSQL's server binaries and major version, or `undefined`. */
export function postgresBin() {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : { bin: join(root, versions[0], 'bin'), version: Number(versions[0]) }
}

/** The uid and gid of the `postgres` user when running as root: initdb and postgres refuse root. */
function postgresUser() {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  return { uid: id('-u'), gid: id('-g') }
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/**
 * Makes a cluster in a fresh temporary folder and starts it on a free loopback port, with the
 * server settings `settings` (`name=value`, e.g. `fsync=off`). See postgres-server.d.ts.
 */
export async function startPostgres({ settings = [] } = {}) {
  const found = postgresBin()
  if (!found) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)')
  const { bin, version } = found
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
  // A unix socket in its own folder: never in /var/run/postgresql, which may not exist or be shared.
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1']
  for (const setting of settings) args.push('-c', setting)
  let child

  const start = async () => {
    const server = spawn(join(bin, 'postgres'), args, { ...as, stdio: ['ignore', 'ignore', 'pipe'] })
    child = server
    running.add(server)
    server.once('exit', () => running.delete(server))
    let output = ''
    server.stderr.on('data', (chunk) => {
      output = (output + chunk).slice(-4000)
    })
    const ready = () =>
      promisify(execFile)(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]).then(
        () => true,
        () => false,
      )
    const deadline = Date.now() + 15_000
    while (!(await ready())) {
      if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode}: ${output}`)
      if (Date.now() > deadline) throw new Error(`postgres did not start on ${port}: ${output}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const stop = () =>
    new Promise((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGINT') // fast shutdown: connections are cut, nothing waits for clients
    })

  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    version,
    get pid() {
      return child.pid
    },
    stop,
    restart: start,
    async remove() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
