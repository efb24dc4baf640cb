// The back-channel logout URL to give the provider: core's Request → Response handler as it is.
import { backchannel } from '../../../lib/backchannel'

export const dynamic = 'force-dynamic'

export function POST(request: Request): Promise<Response> {
  return backchannel().logout(request)
}
