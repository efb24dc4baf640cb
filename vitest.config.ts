import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Resolve workspace packages to their TypeScript sources: tests need no build step.
    conditions: ['@backchannel/source'],
  },
  ssr: {
    resolve: { conditions: ['@backchannel/source'] },
  },
  test: {
    projects: ['packages/*'],
  },
})
