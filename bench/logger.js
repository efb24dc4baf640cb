// node logger.js: what the gateway's log line costs when logouts come one at a time, as at the
// fixed rate of run.js's paced period, rather than many per turn of the event loop as at full
// speed (parts.js). Logs one `logout` line at a steady BENCH_RATE lines a second (default 1,400,
// about half the gateway's maximum on the memory store) to a file for 8 s, and prints the
// process's CPU per line (every thread: the writes run on libuv's thread pool), less what the
// same timer loop costs without logging. Three rounds. Needs `pnpm build`. BENCH_SMOKE=1: one
// round of 1 s.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@backchannel/server'
import { log, SMOKE } from './lib.js'

const RATE = Number(process.env.BENCH_RATE ?? 1400)
const SECONDS = SMOKE ? 1 : 8
const ROUNDS = SMOKE ? 1 : 3

/** CPU µs per call of `work`, called RATE times a second for SECONDS, open loop. */
async function paced(work) {
  const total = RATE * SECONDS
  const cpu = process.cpuUsage()
  const start = performance.now()
  let done = 0
  await new Promise((resolve) => {
    // Timers fire at best every millisecond: each tick makes every call whose moment has come.
    const tick = () => {
      for (const now = performance.now(); done < total && start + (done * 1000) / RATE <= now; done++) work()
      if (done < total) setTimeout(tick, 1)
      else resolve()
    }
    tick()
  })
  const { user, system } = process.cpuUsage(cpu)
  return (user + system) / total
}

const line = { app: 'bench', status: 200, revoked: 1, ms: 0.8 }
for (let round = 1; round <= ROUNDS; round++) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-logger-'))
  const logger = createLogger('info', join(dir, 'gateway.log'))
  const logging = await paced(() => logger.info(line, 'logout'))
  const loop = await paced(() => {})
  logger.flush()
  await rm(dir, { recursive: true, force: true })
  log(
    `round ${round}: ${(logging - loop).toFixed(1)} µs of CPU per line at ${RATE.toLocaleString('en')} lines/s ` +
      `(${logging.toFixed(1)} with the timer loop, which alone costs ${loop.toFixed(1)})`,
  )
}
