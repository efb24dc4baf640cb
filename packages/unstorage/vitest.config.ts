import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@backchannel/source'] },
  ssr: { resolve: { conditions: ['@backchannel/source'] } },
  test: {
    name: 'unstorage',
    include: ['test/**/*.test.ts'],
    benchmark: { include: ['bench/**/*.bench.ts'] },
    globalSetup: ['test/setup/services.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
