// node bench/filled.js fill|open FOLDER [FROM TO]: a checkout's fs store with many sessions, through
// its public API (`@backchannel/unstorage/fs` as that checkout's bench folder resolves it). run.js
// runs each step in a process of its own, so that opening starts from nothing.
// - fill: registers sessions FROM to TO - 1 (two per user) without waiting for the disk: how fast
//   the disk syncs is not what is measured here. Prints { ms, bytes }: bytes the folder takes on disk.
// - open: opens the folder. Prints { ms, heap }: ms until the first status() answers, and the
//   heap's growth (bytes, after full collections) from before opening to after that answer.
// BENCH_CHECKOUT: the checkout whose store is used (default: this one).
import { readdir, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

// V8's gc() without asking for --expose-gc on the command line.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')
const [step, folder, from, to] = process.argv.slice(2)
const checkout = process.env.BENCH_CHECKOUT ?? join(import.meta.dirname, '..')
const preset = createRequire(join(checkout, 'bench/package.json')).resolve('@backchannel/unstorage/fs')
const { fsStore } = await import(pathToFileURL(preset).href)
const [app, iss] = ['bench', 'https://id.example.com']

if (step === 'fill') {
  const store = await fsStore({ base: folder, fsync: false })
  const [first, end] = [Number(from), Number(to)]
  const t0 = performance.now()
  for (let i = first; i < end; i += 2000) {
    const ids = Array.from({ length: Math.min(2000, end - i) }, (_, j) => i + j)
    await Promise.all(
      ids.map((i) => store.register({ app, iss, sessionId: `s-${i}`, sub: `user-${i >> 1}`, sid: `${i}` })),
    )
  }
  const ms = performance.now() - t0
  await store.close()
  // Blocks in use, not apparent sizes: a database file may be sparse.
  const files = await readdir(folder)
  const sizes = await Promise.all(files.map(async (file) => (await stat(join(folder, file))).blocks * 512))
  console.log(JSON.stringify({ ms, bytes: sizes.reduce((a, b) => a + b, 0) }))
} else if (step === 'open') {
  gc()
  gc()
  const heapBefore = process.memoryUsage().heapUsed
  const t0 = performance.now()
  const store = await fsStore({ base: folder })
  await store.status(app, 's-0')
  const ms = performance.now() - t0
  gc()
  gc()
  console.log(JSON.stringify({ ms, heap: process.memoryUsage().heapUsed - heapBefore }))
  await store.close()
} else {
  throw new Error(`usage: node bench/filled.js fill|open FOLDER [FROM TO] (not ${step})`)
}
