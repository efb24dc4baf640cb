import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      'packages/*',
      {
        // The examples are plain JavaScript packages; their tests run against the sources.
        resolve: { conditions: ['@backchannel/source'] },
        ssr: { resolve: { conditions: ['@backchannel/source'] } },
        test: {
          name: 'examples',
          include: ['examples/*/*.test.js'],
          globalSetup: ['packages/unstorage/test/setup/services.ts', 'test/setup/build.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
    // CI reads the JSON report to print its closing "N passed, N failed" line (.ci/run).
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
})
