/** Two gateway processes sharing one real Redis (the suite is in fixtures/two-gateways.ts). */
import { inject } from 'vitest'
import { describeTwoGateways } from './fixtures/two-gateways.js'
import './setup/provided.js'

const redisUrl = inject('redisUrl')
if (!redisUrl)
  console.warn(
    '\n⚠ SKIPPING the two-instance Redis test: redis-server is not installed (apt-get install -y redis-server).\n',
  )

describeTwoGateways('two gateways on one Redis', redisUrl ? () => `${redisUrl}/3` : undefined)
