/** The values ../../unstorage/test/setup/services.ts provides to this project's tests too. */
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string | null
    postgresUrl: string | null
    mongoUrl: string
    mongoKind: 'congodb' | 'mongodb'
  }
}

export {}
