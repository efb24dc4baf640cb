/**
 * The console's stylesheet and script, read once from `assets/` beside the sources (the package
 * ships `src`), so the console needs no build step of its own, no CDN and no network.
 * @module
 */
import { readFileSync } from 'node:fs'

/** Each asset's path under `/admin/assets/` and its content type. */
const ASSETS = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
} as const

// From src/console or dist/console alike, `../../src/console/assets/` is the one folder of assets.
const folder = new URL('../../src/console/assets/', import.meta.url)

let loaded: Map<string, { body: Buffer; type: string }> | undefined

/** The answer for `/admin/assets/<name>`: the file with its content type, or `undefined` for an unknown name. */
export function asset(name: string): Response | undefined {
  loaded ??= new Map(
    Object.entries(ASSETS).map(([file, type]) => [file, { body: readFileSync(new URL(file, folder)), type }]),
  )
  const found = loaded.get(name)
  return found && new Response(new Uint8Array(found.body), { headers: { 'content-type': found.type } })
}
