// node server.js — with ISSUER, CLIENT_ID (and DEVELOPMENT=true for an http:// issuer), on PORT.
import { createApp } from './app.js'

const app = await createApp({
  issuer: process.env.ISSUER ?? 'http://localhost:4000',
  clientId: process.env.CLIENT_ID ?? 'express-demo',
  development: process.env.DEVELOPMENT === 'true',
})
const port = Number(process.env.PORT ?? 3100)
app.listen(port, () =>
  console.log(`express example on http://localhost:${port}; back-channel logout URL /backchannel-logout`),
)
