/**
 * A stream creation that fails midway (the store errs between taking the name and writing the
 * record) must not leave the name taken with no stream behind it.
 */
import { randomBytes } from 'node:crypto'
import { createStorage } from 'unstorage'
import { describe, expect, it } from 'vitest'
import { createStore } from '../src/store.js'
import { streamRecord } from './store-suite.js'

const stream = streamRecord(0)

describe('stream names', () => {
  it('a creation whose record could not be written frees its name', async () => {
    const storage = createStorage()
    const store = createStore({ storage, masterKey: randomBytes(32) })
    const setItem = storage.setItem.bind(storage)
    let down = true
    storage.setItem = ((key: string, ...rest: unknown[]) =>
      down && key.startsWith('stream:')
        ? Promise.reject(new Error('ECONNRESET'))
        : (setItem as (...args: unknown[]) => Promise<void>)(key, ...rest)) as typeof storage.setItem
    await expect(store.streams.create(stream)).rejects.toThrow()
    down = false
    expect(await store.streams.create(stream)).toBe(true)
    expect(await store.streams.get('okta')).toEqual(stream)
  })

  it('delete frees a name held with no record, and answers false', async () => {
    const storage = createStorage()
    const store = createStore({ storage, masterKey: randomBytes(32) })
    expect(await store.streams.create(stream)).toBe(true)
    // A creation that stopped between its claim and its record: only the claim remains.
    await storage.removeItem((await storage.getKeys()).find((k) => k.startsWith('stream:')) as string)
    expect(await store.streams.create(stream)).toBe(false)
    expect(await store.streams.delete('okta')).toBe(false)
    expect(await store.streams.create(stream)).toBe(true)
  })
})
