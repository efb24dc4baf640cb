/**
 * `@backchannel/unstorage/mongodb`: shared storage on MongoDB (official driver).
 *
 * Records go through an unstorage driver defined here rather than `unstorage/drivers/mongodb`,
 * which has no index on `key` (every read a collection scan), ignores `ttl`, lists keys by
 * loading all of them, and whose `clear(base)` empties the whole collection. This one keeps
 * `{ key, value, expiresAt }` with a unique index on `key`, a TTL index on `expiresAt`, and
 * answers prefixes with an anchored (indexed) regex. Claims, index sets and the audit log live
 * in collections of their own.
 *
 * @example
 * ```ts
 * import { mongodbStore } from '@backchannel/unstorage/mongodb'
 * const store = await mongodbStore({ url: 'mongodb://127.0.0.1:27017', masterKey })
 * ```
 * @module
 */
import { type Collection, type Db, MongoClient, type MongoClientOptions, MongoServerError } from 'mongodb'
import { createStorage, defineDriver } from 'unstorage'
import { type DumpEntry, type StoreBackend, ttlSeconds } from '../backend.js'
import { type BackchannelStore, createStore, type StoreOptions } from '../store.js'

/** Options of {@link mongodbStore}. */
export interface MongodbStoreOptions extends StoreOptions {
  /** `mongodb://…` or `mongodb+srv://…`. */
  url: string
  /** Database name. Default `backchannel`. */
  database?: string
  /** Prefix of every collection name. Default `bc_`. */
  collectionPrefix?: string
  /** Extra driver options. */
  client?: MongoClientOptions
}

interface RecordDoc {
  key: string
  value: string
  expiresAt: Date | null
}
interface ClaimDoc {
  key: string
  /** How many claims were attempted on this document: the one that makes it 1 wins. */
  n: number
  /** Bumped at every take-over of an expired claim (compare-and-swap). */
  gen: number
  until: number
  expiresAt: Date
}
interface MemberDoc {
  set: string
  member: string
  expiresAt: Date
}
interface LogDoc {
  log: string
  id: string
  entry: string
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const prefixOf = (base: string) => (base ? { $regex: `^${escapeRegex(base.replace(/:?$/, ':'))}` } : { $exists: true })
const at = (seconds: number) => new Date(seconds * 1000)

/** Retries once on a duplicate-key error: two concurrent upserts of one key on real MongoDB. */
async function upsert<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (err) {
    if (err instanceof MongoServerError && err.code === 11000) return operation()
    throw err
  }
}

const recordsDriver = defineDriver((records: Collection<RecordDoc>) => ({
  name: 'backchannel-mongodb',
  getInstance: () => records,
  async hasItem(key) {
    return (await records.countDocuments({ key, $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }] })) > 0
  },
  async getItem(key) {
    return (await records.findOne({ key }))?.value ?? null
  },
  async getItems(items) {
    const docs = await records.find({ key: { $in: items.map((i) => i.key) } }).toArray()
    const byKey = new Map(docs.map((d) => [d.key, d.value]))
    return items.map(({ key }) => ({ key, value: byKey.get(key) ?? null }))
  },
  async setItem(key, value, options) {
    const ttl = (options as { ttl?: number } | undefined)?.ttl
    const expiresAt = ttl ? new Date(Date.now() + ttl * 1000) : null
    await upsert(() => records.updateOne({ key }, { $set: { key, value, expiresAt } }, { upsert: true }))
  },
  async removeItem(key) {
    await records.deleteOne({ key })
  },
  async getKeys(base) {
    return (await records.find({ key: prefixOf(base) }, { projection: { key: 1 } }).toArray()).map((d) => d.key)
  },
  async clear(base) {
    await records.deleteMany({ key: prefixOf(base) })
  },
}))

/** A store on MongoDB; connects and creates its indexes before it returns. */
export async function mongodbStore(options: MongodbStoreOptions): Promise<BackchannelStore> {
  const client = new MongoClient(options.url, { serverSelectionTimeoutMS: 5000, ...options.client })
  await client.connect()
  const db: Db = client.db(options.database ?? 'backchannel')
  const prefix = options.collectionPrefix ?? 'bc_'
  const records = db.collection<RecordDoc>(`${prefix}records`)
  const claims = db.collection<ClaimDoc>(`${prefix}claims`)
  const members = db.collection<MemberDoc>(`${prefix}members`)
  const logs = db.collection<LogDoc>(`${prefix}audit`)
  await Promise.all([
    records.createIndex({ key: 1 }, { unique: true }),
    records.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }),
    claims.createIndex({ key: 1 }, { unique: true }),
    claims.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }),
    members.createIndex({ set: 1, member: 1 }, { unique: true }),
    members.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }),
    logs.createIndex({ log: 1, id: -1 }),
  ])
  const storage = createStorage({ driver: recordsDriver(records) })
  let appends = 0

  const backend: StoreBackend = {
    storage,

    async claim(key, expiresAt, now) {
      // The document's first claimant wins ($inc is atomic on one document); a claim whose
      // time has passed is taken over by compare-and-swap on `gen`, so again one winner.
      const doc = await upsert(() =>
        claims.findOneAndUpdate(
          { key },
          { $inc: { n: 1 }, $setOnInsert: { key, gen: 0, until: expiresAt, expiresAt: at(expiresAt) } },
          { upsert: true, returnDocument: 'after' },
        ),
      )
      if (!doc) throw new Error('MongoDB returned no claim document')
      if (doc.n === 1) return true
      if (doc.until > now) return false
      const taken = await claims.updateOne(
        { key, gen: doc.gen, until: { $lte: now } },
        { $set: { until: expiresAt, expiresAt: at(expiresAt) }, $inc: { gen: 1 } },
      )
      return taken.modifiedCount === 1
    },

    async release(key) {
      await claims.deleteOne({ key })
    },

    async addMember(set, member, expiresAt) {
      await upsert(() =>
        members.updateOne(
          { set, member },
          { $max: { expiresAt: at(expiresAt) }, $set: { set, member } },
          { upsert: true },
        ),
      )
    },

    async members(set) {
      const docs = await members.find({ set, expiresAt: { $gt: new Date() } }, { projection: { member: 1 } }).toArray()
      return [...new Set(docs.map((d) => d.member))]
    },

    async readIndex(set, prefix, also = []) {
      const list = await backend.members(set)
      const values = await backend.getMany([...list.map((member) => prefix + member), ...also])
      return { members: list.map((member, i) => ({ member, value: values[i] })), also: values.slice(list.length) }
    },

    async removeMembers(set, list) {
      if (list.length > 0) await members.deleteMany({ set, member: { $in: list } })
    },

    // One find with $in, through unstorage (which parses the values): the round trip dominates here.
    getMany: async (keys) => (await storage.getItems(keys)).map(({ value }) => value),

    async setMany(entries, now) {
      // One bulk write: MongoDB applies each document atomically, not the batch as a whole.
      if (entries.length === 0) return
      await records.bulkWrite(
        entries.map(({ key, value, expiresAt }) => ({
          updateOne: {
            filter: { key },
            update: { $set: { key, value: JSON.stringify(value), expiresAt: at(now + ttlSeconds(expiresAt, now)) } },
            upsert: true,
          },
        })),
      )
    },

    async append(entries, maxEntries) {
      await logs.insertMany(entries.map(({ log, id, entry }) => ({ log, id, entry })))
      // Trimmed now and then: a log may hold a few more than maxEntries in between.
      appends += entries.length
      if (appends >= 100) {
        appends = 0
        for (const log of new Set(entries.map((e) => e.log))) {
          const oldestKept = await logs
            .find({ log })
            .sort({ id: -1 })
            .skip(maxEntries - 1)
            .limit(1)
            .next()
          if (oldestKept) await logs.deleteMany({ log, id: { $lt: oldestKept.id } })
        }
      }
    },

    async read(log, limit, before) {
      const filter = before === undefined ? { log } : { log, id: { $lt: before } }
      return (await logs.find(filter).sort({ id: -1 }).limit(limit).toArray()).map((d) => d.entry)
    },

    async removePrefix(prefix) {
      await records.deleteMany({ key: prefixOf(prefix) })
      await members.deleteMany({ set: prefixOf(prefix) })
    },

    async *dump(now) {
      const live = { $gt: at(now) }
      for await (const d of records.find({ $or: [{ expiresAt: null }, { expiresAt: live }] })) {
        yield { kind: 'record', key: d.key, value: d.value, expiresAt: d.expiresAt && d.expiresAt.getTime() / 1000 }
      }
      for await (const d of claims.find({ until: { $gt: now } }))
        yield { kind: 'claim', key: d.key, expiresAt: d.until }
      for await (const d of members.find({ expiresAt: live })) {
        yield { kind: 'member', set: d.set, member: d.member, expiresAt: d.expiresAt.getTime() / 1000 }
      }
      for await (const d of logs.find().sort({ log: 1, id: 1 }))
        yield { kind: 'log', log: d.log, id: d.id, entry: d.entry }
    },

    async load(entries) {
      const date = (until: number) => new Date(Math.round(until * 1000))
      const of = <K extends DumpEntry['kind']>(kind: K) =>
        entries.filter((e): e is Extract<DumpEntry, { kind: K }> => e.kind === kind)
      const writes: Promise<unknown>[] = []
      const put = <T extends object>(collection: Collection<T>, ops: Parameters<Collection<T>['bulkWrite']>[0]) => {
        if (ops.length > 0) writes.push(collection.bulkWrite(ops, { ordered: false }))
      }
      // A live record already there stays: it may be newer than the dump (a later logout). An
      // expired one is replaced first, then a missing one inserted: in order, hence `ordered`.
      const expired = { $ne: null, $lte: new Date() }
      const recordOps = of('record').flatMap(({ key, value, expiresAt: until }) => {
        const fields = { key, value, expiresAt: until === null ? null : date(until) }
        return [
          { updateOne: { filter: { key, expiresAt: expired }, update: { $set: fields } } },
          { updateOne: { filter: { key }, update: { $setOnInsert: fields }, upsert: true } },
        ]
      })
      if (recordOps.length > 0) writes.push(records.bulkWrite(recordOps, { ordered: true }))
      // A loaded claim is held (n: 1): a later claim of its key is refused until it passes.
      put(
        claims,
        of('claim').map(({ key, expiresAt: until }) => ({
          updateOne: {
            filter: { key },
            update: { $max: { until, expiresAt: date(until) }, $setOnInsert: { key, n: 1, gen: 0 } },
            upsert: true,
          },
        })),
      )
      put(
        members,
        of('member').map(({ set, member, expiresAt: until }) => ({
          updateOne: { filter: { set, member }, update: { $max: { expiresAt: date(until) } }, upsert: true },
        })),
      )
      put(
        logs,
        of('log').map(({ log, id, entry }) => ({
          updateOne: { filter: { log, id }, update: { $set: { entry } }, upsert: true },
        })),
      )
      await Promise.all(writes)
    },

    async ping() {
      await db.command({ ping: 1 })
    },

    async dispose() {
      await client.close()
    },
  }
  return createStore(backend, options)
}
