/**
 * The admin console in a real browser: Debian's Chromium driven by playwright-core, against a
 * gateway on 127.0.0.1 (its relay drainer running), the oidc-provider of the e2e tests and a
 * relay receiver. The tests run in order, as an operator would: each builds on the last. At the
 * end, a screenshot of each page is written to docs/console/. Then an application's owner does the
 * same in its tenant space, signed in with its API key (docs/console/tenant-*.png).
 *
 * Without /usr/bin/chromium the tests are skipped, saying so; under CI=true they fail instead.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { mintLogoutToken } from '@backchannel/core/mint'
import { type DevIdp, startDevIdp } from 'dev-idp'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN } from './fixtures/gateway-process.js'
import { type LoopbackGateway, startLoopbackGateway } from './fixtures/loopback-gateway.js'
import { quickRetry } from './fixtures/quick-retry.js'
import { type RelayReceiver, startRelayReceiver } from './fixtures/relay-receiver.js'

const CHROMIUM = '/usr/bin/chromium'
const available = existsSync(CHROMIUM)
if (!available) {
  const reason = `${CHROMIUM} is missing (apt-get install -y chromium): the admin console's browser tests cannot run`
  if (process.env.CI === 'true') throw new Error(reason)
  console.warn(`\n!!! SKIPPED: ${reason}\n`)
}
const SHOTS = fileURLToPath(new URL('../../../docs/console/', import.meta.url))

let gw: LoopbackGateway
let provider: DevIdp
let receiver: RelayReceiver
let browser: Browser
let page: Page
/** What the relay receiver answers; the test changes it. */
let receiverStatus = 400

beforeAll(async () => {
  if (!available) return
  gw = await startLoopbackGateway({ relays: { planRetry: quickRetry, pollMs: 50 } })
  provider = await startDevIdp({
    clients: [{ client_id: 'wiki-client', backchannel_logout_uri: `${gw.url}/auth/logout/wiki` }],
  })
  receiver = await startRelayReceiver(async () => ({ status: receiverStatus }))
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No calls home: this machine's network is closed, and tests stay on loopback.
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  page = await (await browser.newContext({ viewport: { width: 1000, height: 700 } })).newPage()
  // A step that cannot happen fails in 10 s with what it waited for, before the test's own timeout.
  page.setDefaultTimeout(10_000)
  // The console asks before rotating or revoking: the operator says yes.
  page.on('dialog', (dialog) => void dialog.accept())
})
afterAll(async () => {
  await browser?.close()
  await receiver?.close()
  await provider?.close()
  await gw?.close()
})

const go = (path: string) => page.goto(`${gw.url}${path}`)
const value = (selector: string) => page.locator(selector).inputValue()

/** The secret of the HMAC app `billing`, as the console last showed it. */
let billingSecret = ''

describe.skipIf(!available)('the admin console in Chromium', () => {
  it('signs in with the admin token; a wrong token is refused with a message', async () => {
    await go('/admin')
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in')
    await page.getByLabel('Admin token').fill('not-the-admin-token')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect
      .poll(() => page.locator('#f-token-error').textContent())
      .toBe("This is neither the admin token nor an application's API key.")
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL('**/admin/apps')
    expect(await page.locator('h1').textContent()).toBe('Applications')
    // The token is in no storage the page's scripts can read.
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }))).not.toContain(ADMIN_TOKEN)
  })

  it('creates an OIDC application by issuer URL and shows its logout URL; a bad name is refused, field named', async () => {
    await go('/admin/register')
    const oidc = page.locator('section', { has: page.locator('#oidc-title') })
    await oidc.getByLabel('Name').fill('Wiki!')
    await oidc.getByLabel('Issuer URL').fill(provider.issuer)
    await oidc.getByLabel('Client id').fill('wiki-client')
    await oidc.getByRole('button', { name: 'Register' }).click()
    const nameError = page.locator('#f-oidc-name-error')
    expect(await nameError.textContent()).toMatch(/lowercase letters/)
    expect(await page.locator('#f-oidc-name').getAttribute('aria-describedby')).toContain('f-oidc-name-error')
    await oidc.getByLabel('Name').fill('wiki')
    await oidc.getByRole('button', { name: 'Register' }).click()
    await page.waitForSelector('#logout-url')
    expect(await value('#logout-url')).toBe(`${gw.url}/auth/logout/wiki`)
    expect(await page.locator('button[data-copy="logout-url"]').count()).toBe(1)
    expect(await gw.admin.apps.get.query({ name: 'wiki' })).toMatchObject({ issuer: provider.issuer })
  })

  it('creates an HMAC application, shows its secret once, and its curl line logs a user out', async () => {
    await go('/admin/register')
    const hmac = page.locator('section', { has: page.locator('#hmac-title') })
    await hmac.getByLabel('Name').fill('billing')
    await hmac.getByLabel('User id for the example logout').fill('carol')
    await hmac.getByRole('button', { name: 'Register' }).click()
    await page.waitForSelector('#secret')
    billingSecret = await value('#secret')
    expect(billingSecret).not.toBe('')
    mkdirSync(SHOTS, { recursive: true })
    await page.screenshot({ path: `${SHOTS}created.png`, fullPage: true })
    expect(await value('#cli-line')).toBe(
      `backchannel token --app billing --secret ${billingSecret} --sub carol --send ${gw.url}`,
    )
    // Carol signs in to billing; the page's curl line, run as shown, logs her out.
    await gw.admin.sessions.register.mutate({ app: 'billing', sessionId: 'carol-1', sub: 'carol' })
    const [command, ...args] = (await value('#curl-line')).split(' ')
    expect(command).toBe('curl')
    const { stdout } = await promisify(execFile)('curl', args)
    expect(stdout).toBe('')
    expect((await gw.admin.sessions.status.query({ app: 'billing', sessionId: 'carol-1' })).state).toBe('revoked')
    // Shown once: the application's page does not have it.
    await go('/admin/apps/billing')
    expect(await page.content()).not.toContain(billingSecret)
  })

  it('rotates the secret: a new one is shown once, and the old one keeps its grace period', async () => {
    await go('/admin/apps/billing')
    await page.getByLabel('Grace period (seconds)').fill('600')
    await page.getByRole('button', { name: 'Rotate the secret' }).click()
    await page.waitForSelector('#secret')
    const rotated = await value('#secret')
    expect(rotated).not.toBe(billingSecret)
    expect(page.url()).toBe(`${gw.url}/admin/apps/billing/rotate-secret`)
    billingSecret = rotated
    expect((await gw.admin.apps.get.query({ name: 'billing' })).previousSecretValidUntil).toBeGreaterThan(
      Date.now() / 1000,
    )
  })

  it('revokes the sessions of a user that the API registered', async () => {
    await gw.admin.sessions.register.mutate({ app: 'wiki', sessionId: 'alice-laptop', sub: 'alice', sid: 'sid-1' })
    await go('/admin/sessions')
    await page.getByLabel('Application').selectOption('wiki')
    await page.getByLabel('User (sub)').fill('alice')
    await page.getByRole('button', { name: 'Show sessions' }).click()
    expect(await page.locator('tbody').textContent()).toContain('alice-laptop')
    await page.getByRole('button', { name: 'Revoke every session of alice' }).click()
    await expect.poll(() => page.getByRole('status').textContent()).toBe('1 session(s) revoked.')
    expect((await gw.admin.sessions.status.query({ app: 'wiki', sessionId: 'alice-laptop' })).state).toBe('revoked')
  })

  it('finds that revocation in the audit log filtered by app, source and outcome', async () => {
    await go('/admin/audit')
    await page.getByLabel('Application').selectOption('wiki')
    await page.getByLabel('Source').selectOption('admin')
    await page.getByLabel('Outcome').selectOption('revoked')
    await page.getByRole('button', { name: 'Filter' }).click()
    const rows = page.locator('tbody tr')
    await expect.poll(() => rows.count()).toBe(1)
    expect(await rows.first().textContent()).toMatch(/wiki.*admin.*revoked.*sessions\.revoke.*by admin/)
    expect(new URL(page.url()).searchParams.get('outcome')).toBe('revoked')
  })

  it('retries a relay dead letter from the page', async () => {
    await go('/admin/apps/billing')
    await page.getByLabel('Relays', { exact: true }).fill(`hmac ${receiver.url}`)
    await page.getByRole('button', { name: 'Save' }).click()
    // A new hmac relay's secret is shown once, on the answer to the save.
    await page.waitForSelector('#relay-secret-0')
    // The receiver answers 400: the delivery is dead at once.
    await gw.admin.sessions.revoke.mutate({ app: 'billing', sub: 'dave' })
    await expect.poll(async () => (await gw.admin.relays.list.query({ app: 'billing' }))[0]?.state).toBe('dead')
    receiverStatus = 200
    await go('/admin/relays?state=dead')
    await page.getByRole('button', { name: /^Retry the delivery/ }).click()
    await expect.poll(() => page.getByRole('status').textContent()).toBe('1 delivery(ies) queued again.')
    await expect.poll(async () => (await gw.admin.relays.list.query({ app: 'billing' }))[0]?.state).toBe('delivered')
  })

  it('the token debugger names exp for an expired token, and claims nothing', async () => {
    const expired = await mintLogoutToken({
      secret: billingSecret,
      sub: 'erin',
      now: Date.now() / 1000 - 200,
      lifetime: 30,
    })
    await go('/admin/debugger')
    await page.getByLabel('Logout token or Security Event Token').fill(expired)
    await page.getByLabel('Verify for').selectOption('app:billing')
    await page.getByRole('button', { name: 'Check' }).click()
    const verdict = await page.locator('#verdict').textContent()
    expect(verdict).toContain('ERR_LOGOUT_TOKEN_EXPIRED')
    expect(verdict).toContain('(exp)')
    expect(await page.locator('pre').nth(1).textContent()).toContain('"sub": "erin"')
    // A valid token passes and stays usable: the debugger claimed no jti.
    const fresh = await mintLogoutToken({ secret: billingSecret, sub: 'erin' })
    await page.getByLabel('Logout token or Security Event Token').fill(fresh)
    await page.getByRole('button', { name: 'Check' }).click()
    expect(await page.locator('#verdict').textContent()).toMatch(/^Accepted/)
    const res = await fetch(`${gw.url}/auth/logout/billing`, {
      method: 'POST',
      body: new URLSearchParams({ logout_token: fresh }),
    })
    expect(res.status).toBe(200)
  })

  it('fits a 400 px wide window: no page scrolls sideways (docs/console/narrow.png)', async () => {
    await provider.logout('wiki-client', 'frank', 'sid-frank') // a real logout, for the health columns
    await page.setViewportSize({ width: 400, height: 800 })
    const paths = ['/admin/apps', '/admin/apps/wiki', '/admin/register', '/admin/sessions?app=wiki&sub=alice']
    for (const path of [...paths, '/admin/audit', '/admin/relays', '/admin/streams', '/admin/debugger']) {
      await go(path)
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > 401)
          .map((e) => `${e.tagName}.${e.className}`)
          .slice(0, 8)
          .join(' '),
      )
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `${path} ${wide}`).toBeLessThanOrEqual(
        400,
      )
    }
    await go('/admin/apps/wiki')
    await page.screenshot({ path: `${SHOTS}narrow.png` })
    await page.setViewportSize({ width: 1000, height: 700 })
  })

  it('takes a screenshot of each page into docs/console/', async () => {
    mkdirSync(SHOTS, { recursive: true })
    const shots: [string, string][] = [
      ['applications', '/admin/apps'],
      ['application', '/admin/apps/wiki'],
      ['register', '/admin/register'],
      ['sessions', '/admin/sessions?app=wiki&sub=alice'],
      ['audit', '/admin/audit?app=wiki'],
      ['relays', '/admin/relays?app=billing'],
      ['streams', '/admin/streams'],
      ['debugger', '/admin/debugger'],
    ]
    for (const [name, path] of shots) {
      await go(path)
      await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true })
    }
    expect(existsSync(`${SHOTS}debugger.png`)).toBe(true)
  })

  it('signs out: the old cookie no longer opens the console', async () => {
    const [cookie] = await page.context().cookies()
    expect(cookie).toMatchObject({ name: 'backchannel_console', httpOnly: true, sameSite: 'Strict', path: '/admin' })
    await go('/admin/apps')
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL('**/admin/sign-in')
    await page.screenshot({ path: `${SHOTS}sign-in.png` })
    const res = await fetch(`${gw.url}/admin/apps`, {
      redirect: 'manual',
      headers: { cookie: `${cookie?.name}=${cookie?.value}` },
    })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/admin/sign-in')
  })
})

describe.skipIf(!available)("an application's owner in its tenant space, in Chromium", () => {
  let owner: Page
  let apiKey = ''
  const visit = (path: string) => owner.goto(`${gw.url}${path}`)

  it('signs in with its API key, copies its logout URL, and sees no other application', async () => {
    apiKey = (await gw.admin.apps.create.mutate({ name: 'shop', relays: [{ mode: 'hmac', url: receiver.url }] })).apiKey
    const context = await browser.newContext({
      viewport: { width: 1000, height: 700 },
      permissions: ['clipboard-read', 'clipboard-write'],
    })
    owner = await context.newPage()
    owner.setDefaultTimeout(10_000)
    owner.on('dialog', (dialog) => void dialog.accept())
    await visit('/admin')
    await owner.getByLabel('Admin token or API key').fill(apiKey)
    await owner.getByRole('button', { name: 'Sign in' }).click()
    await owner.waitForURL('**/admin/apps/shop')
    await owner.locator('button[data-copy="logout-url"]').click()
    await expect.poll(() => owner.locator('button[data-copy="logout-url"]').textContent()).toBe('Copied')
    expect(await owner.evaluate(() => navigator.clipboard.readText())).toBe(`${gw.url}/auth/logout/shop`)
    const links = await owner.locator('nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))
    expect(links).toEqual([
      '/admin/apps/shop',
      '/admin/sessions?app=shop',
      '/admin/audit?app=shop',
      '/admin/relays?app=shop',
      '/admin/debugger',
    ])
    for (const path of ['/admin/apps/shop', '/admin/sessions', '/admin/audit', '/admin/relays', '/admin/debugger']) {
      await visit(path)
      const text = (await owner.locator('main').textContent()) ?? ''
      expect(text, path).not.toMatch(/\b(wiki|billing)\b/)
    }
    await visit('/admin/apps/shop')
    mkdirSync(SHOTS, { recursive: true })
    await owner.screenshot({ path: `${SHOTS}tenant-application.png`, fullPage: true })
  })

  it('rotates its secret, logs a user out with the curl line shown, and finds that logout in its audit log', async () => {
    await gw.admin.sessions.register.mutate({ app: 'shop', sessionId: 'test-user-1', sub: 'test-user' })
    await visit('/admin/apps/shop')
    await owner.getByLabel('Grace period (seconds)').fill('300')
    await owner.getByRole('button', { name: 'Rotate the secret' }).click()
    await owner.waitForSelector('#secret')
    expect(await owner.locator('#secret').inputValue()).toMatch(/^bcs_/)
    await owner.screenshot({ path: `${SHOTS}tenant-secret.png`, fullPage: true })
    const [command, ...args] = (await owner.locator('#curl-line').inputValue()).split(' ')
    expect(command).toBe('curl')
    await promisify(execFile)('curl', args)
    expect((await gw.admin.sessions.status.query({ app: 'shop', sessionId: 'test-user-1' })).state).toBe('revoked')

    await owner.getByRole('link', { name: 'Audit log' }).click()
    await owner.waitForURL('**/admin/audit?app=shop')
    const rows = owner.locator('tbody tr')
    const texts = await rows.allTextContents()
    expect(texts.some((t) => /shop\s*backchannel\s*revoked/.test(t))).toBe(true)
    expect(texts.some((t) => /apps\.rotateSecret.*by owner:shop/.test(t))).toBe(true)
    expect(texts.join('\n')).not.toMatch(/wiki|billing/)
    await owner.screenshot({ path: `${SHOTS}tenant-audit.png`, fullPage: true })
  })

  it("is refused at an operator's URL typed by hand: 403 and a sentence saying why", async () => {
    for (const path of ['/admin/streams', '/admin/apps', '/admin/apps/wiki']) {
      const res = await visit(path)
      expect(res?.status(), path).toBe(403)
      expect(await owner.getByRole('alert').textContent(), path).toMatch(
        /signed in with the API key of shop, you reach shop alone\./,
      )
    }
    await visit('/admin/streams')
    await owner.screenshot({ path: `${SHOTS}tenant-refused.png` })
  })

  it('after rotating its API key, signs in again with the new one; the old one no longer signs in', async () => {
    await visit('/admin/apps/shop')
    await owner.getByRole('button', { name: 'Rotate the API key' }).click()
    await owner.waitForSelector('#api-key')
    const fresh = await owner.locator('#api-key').inputValue()
    expect(fresh).toMatch(/^bck_/)
    await owner.getByRole('link', { name: 'Sign in again with the new key' }).click()
    await owner.waitForURL('**/admin/sign-in**')
    await owner.getByLabel('Admin token or API key').fill(apiKey)
    await owner.getByRole('button', { name: 'Sign in' }).click()
    await expect
      .poll(() => owner.locator('#f-token-error').textContent())
      .toBe("This is neither the admin token nor an application's API key.")
    await owner.getByLabel('Admin token or API key').fill(fresh)
    await owner.getByRole('button', { name: 'Sign in' }).click()
    await owner.waitForURL('**/admin/apps/shop')
    await owner.context().close()
  })
})
