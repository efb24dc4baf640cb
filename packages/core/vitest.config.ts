import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@backchannel/source'] },
  ssr: { resolve: { conditions: ['@backchannel/source'] } },
  test: {
    name: 'core',
    include: ['test/**/*.test.ts'],
    // The README's node:test file imports the build.
    globalSetup: ['../../test/setup/build.ts'],
    benchmark: { include: ['bench/**/*.bench.ts'] },
  },
})
