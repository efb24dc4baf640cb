import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@backchannel/source'] },
  ssr: { resolve: { conditions: ['@backchannel/source'] } },
  test: {
    name: 'unstorage',
    include: ['test/**/*.test.ts'],
    benchmark: { include: ['bench/**/*.bench.ts'] },
    // A real redis-server and MongoDB-protocol server; a build for the processes fs.test.ts kills.
    globalSetup: ['test/setup/services.ts', '../../test/setup/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
