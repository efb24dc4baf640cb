/**
 * The console's signed-in routes, each a handler: reads call the API's queries; actions call its
 * mutations and then redirect (post, redirect, get), except those that made a secret.
 * @module
 */
import { appPage, appsPage, createApp, newAppPage, rotateApiKey, rotateSecret, updateApp } from './apps.js'
import {
  auditPage,
  debuggerPage,
  debugToken,
  relaysPage,
  retryRelays,
  revokeSessions,
  sessionsPage,
  streamsPage,
  verifyStream,
} from './records.js'
import type { Handler } from './shared.js'

export type { ConsoleRequest, RouteDependencies } from './shared.js'

/** The signed-in routes: `METHOD path`, `:name` standing for an application's name. */
export const ROUTES: Readonly<Record<string, Handler>> = {
  'GET /admin/apps': appsPage,
  'GET /admin/register': newAppPage,
  'POST /admin/apps': createApp,
  'GET /admin/apps/:name': (req, deps) => appPage(req, deps),
  'POST /admin/apps/:name/update': updateApp,
  'POST /admin/apps/:name/rotate-secret': rotateSecret,
  'POST /admin/apps/:name/rotate-api-key': rotateApiKey,
  'GET /admin/sessions': sessionsPage,
  'POST /admin/sessions/revoke': revokeSessions,
  'GET /admin/audit': auditPage,
  'GET /admin/relays': relaysPage,
  'POST /admin/relays/retry': retryRelays,
  'GET /admin/streams': streamsPage,
  'POST /admin/streams/verify': verifyStream,
  'GET /admin/debugger': debuggerPage,
  'POST /admin/debugger': debugToken,
}
