/** `backchannel health` against a real gateway, a server answering 503, and a port nothing listens on. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type GatewayProcess, runCli, startGateway } from './fixtures/gateway-process.js'

let gateway: GatewayProcess
beforeAll(async () => {
  gateway = await startGateway()
})
afterAll(async () => {
  expect(await gateway?.stop()).toBe(0)
})

/** A loopback server answering every request with `status`, closed when `use` is done. */
async function withServer(status: number, use: (url: string) => Promise<void>) {
  const server: Server = createServer((_req, res) => res.writeHead(status).end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
}

it('exits 0 when the gateway is ready, given --url or PORT', async () => {
  expect(await runCli(['health', '--url', gateway.url])).toMatchObject({ code: 0, stderr: '' })
  const port = new URL(gateway.url).port
  expect(await runCli(['health'], { PORT: port })).toMatchObject({ code: 0, stderr: '' })
})

it('exits 1 naming the URL when /readyz does not answer 200', async () => {
  await withServer(503, async (url) => {
    const res = await runCli(['health', '--url', url])
    expect(res.code).toBe(1)
    expect(res.stderr).toBe(`backchannel: ${url}/readyz answered 503: not ready\n`)
  })
})

it('exits 1 naming the URL when nothing listens, without a stack trace', async () => {
  let freed = ''
  await withServer(200, async (url) => {
    freed = url
  })
  const res = await runCli(['health', '--url', freed])
  expect(res.code).toBe(1)
  expect(res.stderr).toBe(`backchannel: cannot reach ${freed}/readyz (ECONNREFUSED): the gateway may not be running\n`)
  expect(await runCli(['health', '--url', 'not a url'])).toMatchObject({
    code: 1,
    stderr: expect.stringMatching(/is not a URL/),
  })
})
