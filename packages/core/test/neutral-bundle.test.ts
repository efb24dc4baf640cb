/**
 * The main entry runs on any runtime with web crypto and `fetch` (Bun, Deno, Workers, edge
 * routes): bundled for a platform with no Node built-ins, it must import no `node:` module.
 */
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { expect, it } from 'vitest'

it('the main entry, bundled for a neutral platform, imports no node: module', async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Kept in the output rather than failing the build, so that the assertion names them.
    external: ['node:*'],
  })
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((i) => i.path))
  expect(imports.filter((path) => path.startsWith('node:'))).toEqual([])
  const code = result.outputFiles.map((file) => file.text).join('\n')
  expect(code).not.toMatch(/\bfrom\s*["']node:|\bimport\s*\(\s*["']node:|\brequire\s*\(\s*["']node:/)
})
