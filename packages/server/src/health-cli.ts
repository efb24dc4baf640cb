/**
 * `backchannel health`: exit 0 when the gateway's `/readyz` answers 200, 1 otherwise, for container
 * and service-manager health checks (Docker reserves exit code 2, so every failure is 1).
 * @module
 */
import { defineCommand } from 'citty'

/** How long `health` waits for `/readyz`, in milliseconds: a health check that hangs is worse than one that fails. */
export const HEALTH_TIMEOUT_MS = 3000

/**
 * Asks `<base>/readyz` once; resolves with `undefined` when it answers 200, else with one line
 * saying why not, naming the URL. Never rejects.
 *
 * @example
 * ```ts
 * const problem = await checkReady('http://127.0.0.1:3000')
 * if (problem) console.error(problem)
 * ```
 */
export async function checkReady(base: string, timeoutMs = HEALTH_TIMEOUT_MS): Promise<string | undefined> {
  const url = `${base.replace(/\/+$/, '')}/readyz`
  if (!URL.canParse(url)) return `${url} is not a URL: give --url http://HOST:PORT`
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' })
    await res.body?.cancel()
    return res.status === 200 ? undefined : `${url} answered ${res.status}: not ready`
  } catch (err) {
    const { name, message, cause } = err as Error & { cause?: { code?: string } }
    if (name === 'TimeoutError') return `${url} did not answer within ${timeoutMs / 1000} s`
    if (cause?.code) return `cannot reach ${url} (${cause.code}): the gateway may not be running`
    return `cannot reach ${url}: ${message}`
  }
}

/** The `health` subcommand. */
export const health = defineCommand({
  meta: { name: 'health', description: 'exit 0 when the gateway is ready (GET /readyz answers 200), else 1' },
  args: {
    url: {
      type: 'string',
      description: 'the gateway (default http://127.0.0.1:$PORT, PORT default 3000)',
      valueHint: 'URL',
    },
  },
  async run({ args }) {
    const base = args.url ?? `http://127.0.0.1:${process.env.PORT || 3000}`
    const problem = await checkReady(base)
    if (problem) process.stderr.write(`backchannel: ${problem}\n`)
    // Exit at once: an idle keep-alive socket must not hold a health check open.
    process.exit(problem ? 1 : 0)
  },
})
