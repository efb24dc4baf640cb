// node journal.js: how long appends to the fs store's journal wait while it rewrites itself. A
// journal of BENCH_RECORDS session-sized records (default 300,000) is rewritten from its snapshot
// while appends arrive at a steady 2 per millisecond, each acknowledged once on the disk (the fs
// store's default), as under a loaded gateway; each one's wait counts from when it was due. Prints
// the rewrite's duration and the appends' latency during it, three rounds. First, what one append
// costs alone: appends one at a time (as under light load, where each batch holds one line), wall
// and CPU time per append. BENCH_BUSY_US=n: each append comes after n µs of other synchronous work,
// as in a gateway whose event loop is busy with requests (300: 60 % busy). Needs `pnpm build`.
// BENCH_SMOKE=1: 20,000 records, one round.
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openJournal } from '../packages/unstorage/dist/_internal/journal.js'
import { createLocalState } from '../packages/unstorage/dist/_internal/local-state.js'
import { log, quantiles, SMOKE } from './lib.js'

const RECORDS = SMOKE ? 20_000 : Number(process.env.BENCH_RECORDS ?? 300_000)
const ROUNDS = SMOKE ? 1 : 3
const BUSY_US = Number(process.env.BENCH_BUSY_US ?? 0)
const busy = () => {
  for (const end = performance.now() + BUSY_US / 1000; performance.now() < end; );
}
// A session record as the store writes it: a hashed key and a sealed value of about 180 bytes.
const value = JSON.stringify({ v: 1, sealed: 'x'.repeat(160) })

{
  const dir = await mkdtemp(join(tmpdir(), 'bench-journal-'))
  const journal = await openJournal(join(dir, 'journal'), createLocalState(Date.now), { fsync: true })
  const count = SMOKE ? 500 : 5000
  for (let round = 1; round <= ROUNDS; round++) {
    const cpu = process.cpuUsage()
    const t0 = performance.now()
    for (let i = 0; i < count; i++) await journal.append(['c', `claim-${round}-${i}`, 2e9])
    const wall = ((performance.now() - t0) * 1000) / count
    const { user, system } = process.cpuUsage(cpu)
    log(
      `one append at a time, ${count} appends: ${wall.toFixed(1)} µs wall, ${((user + system) / count).toFixed(1)} µs CPU each`,
    )
  }
  await journal.close()
  await rm(dir, { recursive: true, force: true })
}

for (let round = 1; round <= ROUNDS; round++) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-journal-'))
  const path = join(dir, 'journal')
  const state = createLocalState(() => Date.now() / 1000)
  // rewriteAfter: never on its own; the rewrite below is the one measured.
  const journal = await openJournal(path, state, { fsync: true, rewriteAfter: Number.POSITIVE_INFINITY })
  const append = (op) => {
    state.apply(op)
    return journal.append(op)
  }
  for (let i = 0; i < RECORDS; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, RECORDS - i) }, (_, j) =>
      append(['s', `bc:s:${(i + j).toString(36).padStart(43, '0')}`, value, null]),
    )
    await Promise.all(batch)
  }
  const size = (await stat(path)).size

  const latencies = []
  let sent = 0
  let steady = true
  const pending = []
  // Open loop: append i is due at start + i/2 ms, and its wait counts from then, so time the event
  // loop was held (by the rewrite or the other work) counts too.
  const start = performance.now()
  const tick = () => {
    if (!steady) return
    for (const now = performance.now(); start + sent / 2 <= now; ) {
      const due = start + sent / 2
      busy()
      pending.push(append(['c', `claim-${sent++}`, 2e9]).then(() => latencies.push(performance.now() - due)))
    }
    setTimeout(tick, 1)
  }
  tick()
  // A second of appends alone first: what the rewrite's are compared with.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const before = latencies.length
  const t0 = performance.now()
  await journal.rewrite()
  const took = performance.now() - t0
  steady = false
  await Promise.all(pending)
  await journal.close()
  await rm(dir, { recursive: true, force: true })

  const alone = quantiles(latencies.slice(0, before))
  const during = latencies.slice(before)
  const { p50, p99, max } = quantiles(during)
  log(
    `round ${round}: ${RECORDS.toLocaleString('en')} records (${(size / 2 ** 20).toFixed(0)} MiB), rewritten in ${took.toFixed(0)} ms; ` +
      `${during.length} appends meanwhile waited p50 ${p50} ms, p99 ${p99} ms, max ${max} ms ` +
      `(in the second before: p50 ${alone.p50} ms, p99 ${alone.p99} ms, max ${alone.max} ms)`,
  )
}
