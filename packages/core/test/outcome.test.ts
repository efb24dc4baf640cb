/** The one table from error code to HTTP status, read through `errorStatus` and `failure`. */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { type BackchannelErrorCode, errorStatus, errors, failure } from '../src/index.js'
import { STATUS_BY_CODE } from '../src/outcome.js'

type ErrorClass = typeof errors.BackchannelError
const classes = Object.values(errors) as ErrorClass[]
// Classes that others extend are categories for `instanceof`, never thrown themselves.
const categories = new Set(classes.map((c) => Object.getPrototypeOf(c)))
const thrown = classes.filter((c) => !categories.has(c))

describe('every code has a status', () => {
  it('each error class that core throws is in the table, or is a logout token or SET rule (400)', () => {
    expect(thrown.length).toBeGreaterThan(20)
    for (const ErrorClass of thrown) {
      const listed = Object.hasOwn(STATUS_BY_CODE, ErrorClass.code)
      const tokenRule =
        ErrorClass.prototype instanceof errors.LogoutTokenInvalid || ErrorClass.prototype instanceof errors.SetInvalid
      expect({ code: ErrorClass.code, covered: listed !== tokenRule }).toEqual({ code: ErrorClass.code, covered: true })
      expect(errorStatus(new ErrorClass('x')).status).toBe(tokenRule ? 400 : STATUS_BY_CODE[ErrorClass.code as never])
    }
  })

  it('BackchannelErrorCode is the literal union of those codes', () => {
    expectTypeOf<'ERR_RATE_LIMITED'>().toExtend<BackchannelErrorCode>()
    expectTypeOf<'ERR_LOGOUT_TOKEN_EXPIRED'>().toExtend<BackchannelErrorCode>()
    expectTypeOf<string>().not.toExtend<BackchannelErrorCode>()
    const codes: BackchannelErrorCode[] = thrown.map((c) => c.code as BackchannelErrorCode)
    expect(new Set(codes).size).toBe(thrown.length)
  })

  it('anything that is not a coded error is a 500 without Retry-After', () => {
    expect(errorStatus(new Error('boom'))).toEqual({ status: 500 })
    expect(errorStatus(new errors.BackchannelError('uncoded'))).toEqual({ status: 500 })
  })
})

describe('the answers the table implies', () => {
  it('ERR_RATE_LIMITED → 429 with the limiter’s Retry-After', () => {
    const outcome = failure('wiki', new errors.RateLimited(37))
    expect(outcome.status).toBe(429)
    expect(outcome.headers['retry-after']).toBe('37')
    expect(outcome.body).toEqual({
      error: 'invalid_request',
      error_description: 'too many failed logout requests; retry after 37 s',
    })
    expect(outcome.error?.code).toBe('ERR_RATE_LIMITED')
  })

  it('503s ask to retry later; other statuses do not', () => {
    expect(errorStatus(new errors.StoreUnavailable('down'))).toEqual({ status: 503, retryAfter: 5 })
    expect(failure('wiki', new errors.KeysUnavailable('down')).headers['retry-after']).toBe('5')
    expect(failure('wiki', new errors.AppUnknown('who')).headers['retry-after']).toBeUndefined()
    expect(failure('wiki', new errors.MethodNotAllowed('GET')).headers.allow).toBe('POST')
  })
})
