/**
 * A real Redis Cluster (3 masters, each with a replica) and a real Sentinel group (a master, a
 * replica, one Sentinel) from Debian's redis-server, on free loopback ports, for the test files
 * that need them. Processes are children of the test process, stopped by PID.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './redis-server.js'

const run = promisify(execFile)

export interface RedisGroup {
  url: string
  /** The data nodes' ports (cluster: masters then replicas; sentinel: master then replica). */
  ports: number[]
  /** `redis-cli -p PORT …args`, its output. */
  cli(port: number, ...args: string[]): Promise<string>
  stop(): Promise<void>
}

/**
 * Starts one process on a free port and waits for its "ready" line. `args(port)` gives its
 * arguments; when another process took the port between its choice and the bind (test files start
 * servers in parallel), it is tried again on another.
 */
async function start(
  args: (port: number) => Promise<string[]> | string[],
  ready: string,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const argv = await args(port)
    const child = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      await new Promise<void>((resolve, reject) => {
        let output = ''
        const timer = setTimeout(() => reject(new Error(`redis-server ${argv[0]} did not start: ${output}`)), 10_000)
        child.stdout?.on('data', (chunk: Buffer) => {
          output += chunk
          if (output.includes(ready)) {
            clearTimeout(timer)
            resolve()
          }
        })
        child.once('exit', (code) => {
          clearTimeout(timer)
          reject(new Error(`redis-server exited with ${code}: ${output}`))
        })
      })
      return { child, port }
    } catch (err) {
      child.kill('SIGKILL')
      if (attempt === 5 || !/Address already in use/.test((err as Error).message)) throw err
    }
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const cli = async (port: number, ...args: string[]) =>
  (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout

function group(dir: string, children: ChildProcess[], url: string, ports: number[]): RedisGroup {
  return {
    url,
    ports,
    cli,
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve()
              child.once('exit', () => resolve())
              child.kill('SIGKILL')
            }),
        ),
      )
      await rm(dir, { recursive: true, force: true })
    },
  }
}

const base = (port: number, dir: string) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  dir,
]

/** Three masters and three replicas, every slot served, each replica in sync. */
export async function startRedisCluster(): Promise<RedisGroup> {
  const dir = await mkdtemp(join(tmpdir(), 'bc-cluster-'))
  const children: ChildProcess[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < 6; i++) {
      const { child, port } = await start(async (port) => {
        // The bus port defaults to port + 10000, refused above 55535: always give one.
        const args = [...base(port, dir), '--cluster-enabled', 'yes', '--cluster-port', String(await freePort())]
        return [...args, '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000']
      }, 'Ready to accept connections')
      children.push(child)
      ports.push(port)
    }
    const nodes = ports.map((p) => `127.0.0.1:${p}`)
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'])
    for (const port of ports) {
      await until(`cluster_state:ok on ${port}`, async () =>
        (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'),
      )
      await until(`replication on ${port}`, async () => {
        const info = await cli(port, 'info', 'replication')
        return info.includes('role:master')
          ? info.includes('connected_slaves:1')
          : info.includes('master_link_status:up')
      })
    }
    return group(dir, children, `redis+cluster://${nodes.slice(0, 3).join(',')}`, ports)
  } catch (err) {
    await group(dir, children, '', []).stop()
    throw err
  }
}

/** A master, its replica and one Sentinel watching them (quorum 1), the replica known to it. */
export async function startRedisSentinel(): Promise<RedisGroup> {
  const dir = await mkdtemp(join(tmpdir(), 'bc-sentinel-'))
  const children: ChildProcess[] = []
  try {
    const ready = 'Ready to accept connections'
    const { child: first, port: master } = await start((port) => base(port, dir), ready)
    children.push(first)
    const { child: second, port: replica } = await start(
      (port) => [...base(port, dir), '--replicaof', '127.0.0.1', String(master)],
      ready,
    )
    children.push(second)
    // Sentinel rewrites its configuration file: it must be a writable file of its own.
    const conf = join(dir, 'sentinel.conf')
    const { child: third, port: sentinel } = await start(async (port) => {
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor mymaster 127.0.0.1 ${master} 1`,
          'sentinel down-after-milliseconds mymaster 1000',
          'sentinel failover-timeout mymaster 5000',
          '',
        ].join('\n'),
      )
      return [conf, '--sentinel']
    }, 'Sentinel ID is')
    children.push(third)
    // A failover asked for before the Sentinel knows the replica fails with NOGOODSLAVE.
    await until('the Sentinel to know the replica', async () =>
      (await cli(sentinel, 'sentinel', 'replicas', 'mymaster')).includes(String(replica)),
    )
    await until('the replica to sync', async () =>
      (await cli(replica, 'info', 'replication')).includes('master_link_status:up'),
    )
    return group(dir, children, `redis+sentinel://127.0.0.1:${sentinel}/mymaster`, [master, replica, sentinel])
  } catch (err) {
    await group(dir, children, '', []).stop()
    throw err
  }
}
