/**
 * vitest global setup: build the packages once (the server's build references the others), so
 * tests can spawn them as real processes.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export default function setup() {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  execFileSync(
    process.execPath,
    [`${root}/node_modules/typescript/bin/tsc`, '-b', 'packages/server/tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  )
}
