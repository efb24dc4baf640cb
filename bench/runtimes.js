// node bench/runtimes.js: RS256 logout-token verification (core's verifier: signature and claim
// rules) on Node, Bun and Deno, each in a process of its own on the same tokens, one after the
// other after a warm-up: CPU per verify (user + system) and wall time per verify, and the CPU as a
// ratio to Node's. Bun and Deno are the npm packages' binaries. Prints a sentence and a Markdown table.
// BENCH_SMOKE=1: 500 tokens.
import { spawn } from 'node:child_process'
import { rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { CLIENT_ID, startIssuer } from './issuer.js'
import { fmt, here, log, SMOKE, tempDir } from './lib.js'

const TOKENS = SMOKE ? 500 : 20_000
const WARM_UP = Math.round(TOKENS / 10)
const packageDir = (name) => dirname(createRequire(import.meta.url).resolve(`${name}/package.json`))
const script = join(here, 'verify.js')
const runtimes = [
  { name: 'Node', command: process.execPath, args: [script] },
  { name: 'Bun', command: join(packageDir('bun'), 'bin/bun.exe'), args: [script] },
  // Reads the tokens and node_modules, and nothing else: no network, no prompt.
  {
    name: 'Deno',
    command: join(packageDir('deno'), 'deno'),
    args: ['run', '--no-prompt', '--cached-only', '--allow-read', '--allow-env', script],
  },
]

const idp = await startIssuer()
log(`runtimes: minting ${fmt(TOKENS)} RS256 tokens…`)
const tokens = await idp.mint(TOKENS)
const jwks = await (await fetch(`${idp.issuer}/jwks`)).json()
await idp.close()
const dir = await tempDir('bench-runtimes-')
const file = join(dir, 'tokens.json')
await writeFile(file, JSON.stringify({ issuer: idp.issuer, clientId: CLIENT_ID, jwks, tokens, warmUp: WARM_UP }))

const results = []
try {
  for (const runtime of runtimes) {
    log(`runtimes: ${runtime.name}…`)
    results.push({ ...runtime, ...JSON.parse(await run(runtime)) })
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
const node = results[0]
console.log(
  [
    `Verifying one RS256 logout token with core's verifier, on each runtime in a process of its own (the same ${fmt(TOKENS)} tokens, one at a time, after the first ${fmt(WARM_UP)} as warm-up):`,
    '',
    '| runtime | verifies | CPU per verify (µs) | CPU ratio to Node | wall per verify (µs) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.version} | ${fmt(r.verifies)} | ${fmt(r.cpuUs)} | ${(r.cpuUs / node.cpuUs).toFixed(2)} | ${fmt(r.wallUs)} |`,
    ),
  ].join('\n'),
)

/** Runs one runtime's loop; resolves with what it printed. Telemetry and update checks are off. */
function run({ command, args }) {
  const env = { ...process.env, BENCH_TOKENS: file, DO_NOT_TRACK: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' }
  const child = spawn(command, args, { cwd: here, env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk) => {
    out += chunk
  })
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}`)))),
  )
}
