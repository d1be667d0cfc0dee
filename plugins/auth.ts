/**
 * request_filter, identity: a route's `auth` decides who the client is before anything is
 * spent on the request beyond the IP filter. Each route with `auth` gets one onRequest hook
 * running its Authenticator (src/auth/); a route without `auth` gets no hook at all.
 * What it finds is `ctx.principal` (read by rate limits keyed on it and by user hooks) and,
 * for forwarded JWT claims, `ctx.upstreamHeaders`. A refusal is thrown as a typed error,
 * which the error handler writes with its WWW-Authenticate header.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { append, contextOf } from './request-context.js'
import { createAuthenticator } from '../src/auth/create.js'
import type { Authenticator } from '../src/auth/authenticator.js'

async function auth (app: FastifyInstance): Promise<void> {
  const authenticators: Authenticator[] = []
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.tollgate
    if (route === undefined || route.auth === null) return
    const upstream = routeOptions.config?.upstream ?? null
    const authenticator = createAuthenticator(route.auth)
    authenticators.push(authenticator)
    // A callback hook rather than an async one: static tokens and keys in memory decide
    // synchronously, and then no promise is made per request.
    routeOptions.onRequest = append((request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      const ctx = contextOf(request, reply, route, upstream)
      let pending: void | Promise<void>
      try {
        pending = authenticator.authenticate(request, ctx)
      } catch (err) {
        done(err as Error)
        return
      }
      if (pending === undefined) done()
      else pending.then(() => done(), done)
    }, routeOptions.onRequest)
  })
  app.addHook('onClose', async () => {
    await Promise.all(authenticators.map(async a => await a.close()))
  })
}

export default fp(auth, { name: 'tollgate-auth', fastify: '5.x', dependencies: ['tollgate-request-context'] })
