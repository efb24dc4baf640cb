// node server.js — with ISSUER, CLIENT_ID (and DEVELOPMENT=true for an http:// issuer), on PORT.
import { serve } from '@hono/node-server'
import { createNodeApp } from './node.js'

const app = await createNodeApp({
  issuer: process.env.ISSUER ?? 'http://localhost:4000',
  clientId: process.env.CLIENT_ID ?? 'hono-demo',
  development: process.env.DEVELOPMENT === 'true',
})
const port = Number(process.env.PORT ?? 3200)
serve({ fetch: app.fetch, port }, () => console.log(`hono example on http://localhost:${port}`))
