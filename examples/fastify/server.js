// node server.js — with ISSUER, CLIENT_ID (and DEVELOPMENT=true for an http:// issuer), on PORT.
import { createApp } from './app.js'

const app = await createApp({
  issuer: process.env.ISSUER ?? 'http://localhost:4000',
  clientId: process.env.CLIENT_ID ?? 'fastify-demo',
  development: process.env.DEVELOPMENT === 'true',
})
const port = Number(process.env.PORT ?? 3300)
await app.listen({ port })
console.log(`fastify example on http://localhost:${port}; back-channel logout URL /backchannel-logout`)
