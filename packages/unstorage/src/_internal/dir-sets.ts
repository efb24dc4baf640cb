/**
 * Index sets and logs as directories, for the fs preset. unstorage's fs driver lists keys by
 * walking the whole data tree whatever base it is given, so a set read through it would cost
 * as much as everything stored; here a set is one directory and reading it one `readdir`.
 * Set and log names are made of hashes and fixed words (see keys.ts): safe as paths.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { h } from './keys.js'

type Member = { member: string; until: number }

export function createDirSets(root: string, now: () => number) {
  const dirOf = (name: string) => join(root, ...name.split(':'))
  const list = (dir: string) =>
    readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]
      throw err
    })
  const readJson = async <T>(path: string): Promise<T | undefined> => {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as T
    } catch {
      return undefined // removed meanwhile, or half-written by a crash: not a member
    }
  }

  return {
    async addMember(set: string, member: string, expiresAt: number) {
      const dir = dirOf(set)
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, h(member)), JSON.stringify({ member, until: expiresAt } satisfies Member))
    },
    async members(set: string) {
      const dir = dirOf(set)
      const t = now()
      const entries = await Promise.all((await list(dir)).map((f) => readJson<Member>(join(dir, f))))
      return entries.flatMap((e) => (e && e.until > t ? [e.member] : []))
    },
    async removeMembers(set: string, members: string[]) {
      await Promise.all(members.map((m) => rm(join(dirOf(set), h(m)), { force: true })))
    },
    async append(log: string, id: string, entry: string, maxEntries: number, trim: boolean) {
      const dir = dirOf(log)
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, id), entry)
      if (trim) {
        const ids = (await list(dir)).sort()
        await Promise.all(
          ids.slice(0, Math.max(0, ids.length - maxEntries)).map((f) => rm(join(dir, f), { force: true })),
        )
      }
    },
    async read(log: string, limit: number, before?: string) {
      const dir = dirOf(log)
      const ids = (await list(dir))
        .filter((id) => before === undefined || id < before)
        .sort()
        .reverse()
        .slice(0, limit)
      const entries = await Promise.all(ids.map((id) => readFile(join(dir, id), 'utf8').catch(() => undefined)))
      return entries.filter((e) => e !== undefined)
    },
    /** Removes expired members (the index of a user who never comes back). Logs are capped instead. */
    async sweep() {
      const t = now()
      const files = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])
      for (const file of files) {
        if (!file.isFile()) continue
        const path = join(file.parentPath, file.name)
        const value = await readJson<Partial<Member>>(path)
        if (typeof value?.until === 'number' && value.until <= t) await rm(path, { force: true })
      }
    },
    async removePrefix(prefix: string) {
      await rm(dirOf(prefix), { recursive: true, force: true })
    },
  }
}
