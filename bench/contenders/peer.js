// The peer: express-openid-connect's own back-channel logout route (its `backchannelLogout`
// option) with express-session's default MemoryStore as the logout store, against the same issuer.

import express from 'express'
import { auth } from 'express-openid-connect'
import session from 'express-session'

const { ISSUER, CLIENT_ID, PORT } = process.env
const app = express()
app.use(
  auth({
    issuerBaseURL: ISSUER,
    baseURL: 'http://127.0.0.1',
    clientID: CLIENT_ID,
    secret: 'a-long-enough-session-secret-for-the-benchmark',
    authRequired: false,
    idpLogout: false,
    backchannelLogout: { store: new session.MemoryStore() },
    routes: { backchannelLogout: '/auth/logout/bench' },
  }),
)
const server = app.listen(Number(PORT ?? 0), '127.0.0.1', () =>
  console.error(`listening on http://127.0.0.1:${server.address().port}`),
)
