import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@backchannel/source'] },
  ssr: { resolve: { conditions: ['@backchannel/source'] } },
  test: {
    name: 'server',
    include: ['test/**/*.test.ts'],
    // The real redis-server and MongoDB-protocol server of the store tests, and a build of the
    // packages for the spawned CLI processes.
    globalSetup: ['../unstorage/test/setup/services.ts', '../../test/setup/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
