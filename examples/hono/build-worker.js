// node build-worker.js [out.js] — bundles worker.js for workerd, with the conditions wrangler uses.
// Node built-ins are left to the `nodejs_compat` flag (the memory store takes node:crypto from it).
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** Bundles the Worker; returns its code as text. */
export async function buildWorker() {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('worker.js', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['node:*'],
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0].text
}
