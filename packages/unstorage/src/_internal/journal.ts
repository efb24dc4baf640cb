/**
 * The fs preset's file: an append-only journal of the local backend's writes, one JSON array a
 * line (the {@link Op}s of local-state.ts). Opening it replays every line into the state.
 *
 * Group commit: lines appended while a write is on its way leave together in the next one, and
 * each append's promise resolves once its line is in the file (handed to the OS; with `fsync`,
 * on the disk). A torn last line (a crash mid-write) is skipped on replay.
 *
 * The file grows with every write; when it holds more than twice the lines of its last snapshot
 * it is rewritten in the background: the live state goes to `<path>.next` in chunks while
 * writes go on, the lines appended meanwhile follow it, and a rename swaps it in. Ops are
 * idempotent (set, delete, add with the later expiry) except log appends, whose snapshot is
 * taken at the start, so a snapshot that already saw a later write is still right.
 */
import { constants, createReadStream } from 'node:fs'
import { type FileHandle, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createInterface } from 'node:readline'
import type { Op } from './local-state.js'

/** What the journal reads into and snapshots from. */
export interface JournalState {
  apply(op: Op): void
  /** The live state as ops; called once per rewrite, and must capture logs at call time. */
  snapshot(): Iterable<Op>
}

export interface JournalOptions {
  /**
   * Wait for the disk before a write counts (the file is opened with `O_DSYNC`: each write returns
   * once its data is on the disk, as `write` then `fdatasync` would, in one system call). Default
   * `false`: once the OS has it.
   */
  fsync?: boolean
  /** Rewrite once the file holds more than this many lines and twice its last snapshot. */
  rewriteAfter?: number
}

export interface Journal {
  /** Appends one op; resolves once it is in the file. */
  append(op: Op): Promise<void>
  /** Rewrites the file from a snapshot now (also done by itself as the file grows). */
  rewrite(): Promise<void>
  /** Throws when the file can no longer be written. */
  ping(): Promise<void>
  /** Waits for pending writes and a running rewrite, then closes the file. */
  close(): Promise<void>
}

// Snapshot lines are built and written this many characters at a time: each chunk is built
// synchronously, holding the event loop (and every request) while it is.
const CHUNK = 1 << 16
// A rewrite goes to the disk, and frees the replaced file, this many bytes at a time: an
// `fdatasync` also waits for whatever the filesystem has pending, so megabytes at once stall appends.
const DISK_STEP = 1 << 20

/** Replays the journal at `path` into `state` (creating the file if needed) and opens it for appends. */
export async function openJournal(path: string, state: JournalState, options: JournalOptions = {}): Promise<Journal> {
  const { fsync = false, rewriteAfter = 50_000 } = options
  const nextPath = `${path}.next`
  // A rewrite a crash interrupted: the journal itself is still whole.
  await rm(nextPath, { force: true })
  let lines = await replay(path, state)
  // 0600: it holds who has sessions where.
  // With fsync, O_DSYNC: a batch is one system call where write then fdatasync are two.
  const flags = fsync ? constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC : 'a+'
  let file = await open(path, flags, 0o600)
  let size = (await file.stat()).size
  if (size > 0 && (await file.read(Buffer.alloc(1), 0, 1, size - 1)).buffer[0] !== 0x0a) {
    // The last line was torn: start the next one on a line of its own.
    await file.write('\n')
    size++
  }
  let snapshotLines = 0

  let queue: string[] = []
  let waiters: { resolve: () => void; reject: (err: unknown) => void }[] = []
  let scheduled = false
  let chain: Promise<unknown> = Promise.resolve()
  /** While a rewrite runs: the lines appended since it began, in order (they follow its snapshot). */
  let carry: { lines: string[]; failed: boolean } | undefined
  let rewriting: Promise<void> | undefined

  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const run = chain.then(task)
    chain = run.catch(() => {})
    return run
  }

  async function flush() {
    scheduled = false
    const batch = queue.join('')
    const done = waiters
    queue = []
    waiters = []
    try {
      await file.write(batch)
      size += Buffer.byteLength(batch)
      lines += done.length
      for (const w of done) w.resolve()
    } catch (err) {
      // Cut a partial write off so that the next batch starts on a whole line.
      await file.truncate(size).catch(() => {})
      // Lines the old file does not hold must not reach the new one: the rewrite is dropped.
      if (carry) carry.failed = true
      for (const w of done) w.reject(err)
    }
    if (!rewriting && lines > Math.max(rewriteAfter, 2 * snapshotLines)) void rewrite().catch(() => {})
  }

  function rewrite(): Promise<void> {
    rewriting ??= (async () => {
      const carried = { lines: [] as string[], failed: false }
      const appended = carried.lines
      carry = carried
      const ops = state.snapshot()
      const next = await open(nextPath, 'w', 0o600)
      let swapped = false
      try {
        let count = 0
        let chunk = ''
        let unsynced = 0
        for (const op of ops) {
          chunk += `${JSON.stringify(op)}\n`
          count++
          if (chunk.length >= CHUNK) {
            await next.write(chunk)
            unsynced += chunk.length
            chunk = ''
            if (unsynced >= DISK_STEP) {
              await next.datasync()
              unsynced = 0
            }
          }
        }
        // The lines already in the old file follow the snapshot, and all of it goes to the disk
        // while appends go on: the swap below, which appends wait for, writes and flushes only
        // the lines appended meanwhile.
        const written = appended.length - queue.length
        await next.write(chunk + appended.slice(0, written).join(''))
        await next.datasync()
        // Between two batches: every line appended so far is in the old file; those not yet
        // written (still queued) will go to the new one.
        const old = await enqueue(async () => {
          if (carried.failed) throw new Error('a journal write failed during the rewrite; the rewrite was dropped')
          const rest = appended.slice(written, appended.length - queue.length)
          await next.write(rest.join(''))
          await next.datasync()
          const nextSize = (await next.stat()).size
          // Appends go through a handle opened as the first one was.
          const handle = fsync ? await open(nextPath, flags) : next
          try {
            await rename(nextPath, path)
          } catch (err) {
            if (handle !== next) await handle.close()
            throw err
          }
          // Swapped: from here on the new file is the journal.
          swapped = true
          const old = { file, size }
          file = handle
          size = nextSize
          snapshotLines = count
          lines = count + written + rest.length
          if (handle !== next) await next.close().catch(() => {})
          if (fsync) await syncFolder(dirname(path))
          return old
        })
        await discard(old.file, old.size)
      } catch (err) {
        // Unless it failed after the swap (making the rename durable), the old file stays.
        if (!swapped) {
          await next.close().catch(() => {})
          await rm(nextPath, { force: true })
        }
        // Try again once the file has grown as much again.
        snapshotLines = lines
        throw err
      } finally {
        carry = undefined
        rewriting = undefined
      }
    })()
    return rewriting
  }

  // A long journal is rewritten at start, before the store serves anything.
  if (lines > rewriteAfter) await rewrite()

  return {
    append(op) {
      const line = `${JSON.stringify(op)}\n`
      queue.push(line)
      carry?.lines.push(line)
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject })
        if (!scheduled) {
          scheduled = true
          void enqueue(flush)
        }
      })
    },
    rewrite,
    async ping() {
      await file.stat()
    },
    async close() {
      await rewriting?.catch(() => {})
      await enqueue(async () => {})
      await file.close()
    },
  }
}

/** Closes the replaced (already unlinked) journal, freeing its blocks {@link DISK_STEP} at a time. */
async function discard(old: FileHandle, size: number) {
  try {
    for (let left = size - DISK_STEP; left > 0; left -= DISK_STEP) await old.truncate(left)
  } catch {
    // Freed at close instead.
  }
  await old.close().catch(() => {})
}

/** Makes a rename in `folder` durable. */
async function syncFolder(folder: string) {
  const handle = await open(folder, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Applies every whole line of the file; returns how many there were. */
async function replay(path: string, state: JournalState): Promise<number> {
  let count = 0
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
      count++
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  return count
}
