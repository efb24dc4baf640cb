/**
 * The fs store's former format, read once to convert it: `<base>/journal`, an append-only file of
 * the local state's {@link Op}s, one JSON array a line, whose replay rebuilt the state (a torn
 * last line, from a crash mid-write, was never acknowledged and is skipped).
 *
 * {@link convertJournal} replays it into a local state, writes that state's snapshot into LMDB in
 * one transaction, waits for the disk, and only then renames the file `journal.converted`: a
 * crash in between converts again at the next start, which a marker written in the same
 * transaction turns into just the rename.
 */
import { createReadStream, existsSync } from 'node:fs'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { errors } from '@backchannel/core'
import { type Lmdb, writeSnapshot } from './lmdb-backend.js'
import { createLocalState, type Op } from './local-state.js'

/** Converts `<base>/journal` into `db`, if there is one; returns whether there was. */
export async function convertJournal(base: string, db: Lmdb, now: () => number): Promise<boolean> {
  const path = join(base, 'journal')
  if (!existsSync(path)) return false
  await refuseWhileInUse(base)
  const state = createLocalState(now)
  if (!(await replay(path, state))) return false
  db.env.transactionSync(() => {
    if (db.meta.get('converted')) return
    writeSnapshot(db, state.snapshot())
    db.meta.put('converted', true)
  })
  await db.env.flushed
  // Another process starting on the folder at the same moment may have converted and renamed it.
  await rename(path, `${path}.converted`).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err
  })
  await rm(join(base, 'lock'), { force: true }) // the earlier version's, left by a process gone
  const folder = await open(base, 'r')
  try {
    await folder.sync() // makes the rename durable
  } finally {
    await folder.close()
  }
  return true
}

/**
 * Refuses while a process of the earlier version still runs on the folder (its `lock` names it):
 * it would go on appending to a journal already converted, and those writes would be lost.
 */
async function refuseWhileInUse(base: string): Promise<void> {
  const lock = join(base, 'lock')
  const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10)
  // A lock naming this process is stale: left by a crash of a process with the same pid (PID 1 in a container).
  if (!Number.isInteger(holder) || holder <= 0 || holder === process.pid) return
  try {
    process.kill(holder, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return
  }
  throw new errors.StoreUnavailable(
    `${base} is still used by an earlier version of the gateway (process ${holder}, named in ${lock}): ` +
      'stop it, then start again: its journal is converted then',
  )
}

/** Applies every whole line of the file; `false` when there is no file. */
async function replay(path: string, state: { apply(op: Op): void }): Promise<boolean> {
  try {
    const input = createReadStream(path, 'utf8')
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line === '') continue
      let op: Op
      try {
        op = JSON.parse(line) as Op
      } catch {
        continue // torn by a crash mid-write: never acknowledged
      }
      state.apply(op)
    }
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}
