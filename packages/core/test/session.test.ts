/** Which logouts end every session of a user: the rule each revoker applies. */
import { describe, expect, it } from 'vitest'
import { isSubjectWide } from '../src/index.js'

describe('isSubjectWide', () => {
  it('a token with no sid ends every session of its sub, whatever the scope', () => {
    expect(isSubjectWide({ scope: 'session' })).toBe(true)
    expect(isSubjectWide({ scope: 'user' })).toBe(true)
  })

  it('a sid token ends only that IdP session by default', () => {
    expect(isSubjectWide({ sid: 'sid-1', scope: 'session' })).toBe(false)
  })

  it('a sid token under logoutScope "user" ends every session of its user', () => {
    expect(isSubjectWide({ sid: 'sid-1', scope: 'user' })).toBe(true)
  })
})
