import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@backchannel/source'] },
  ssr: { resolve: { conditions: ['@backchannel/source'] } },
  test: {
    name: 'admin',
    include: ['test/**/*.test.ts'],
  },
})
