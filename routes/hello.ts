/**
 * An example TypeScript route, loaded at start because it sits in `routes/` beside the
 * config file. It answers /hello itself in onRequest (Pingora's request_filter replying
 * early) and stamps every other /hello/* request before it goes to Blue.
 */
import { defineRoute } from 'tollgate'

export default defineRoute({
  name: 'hello',
  match: { path: '/hello/*' },
  upstream: 'blue',
  rewrite: { stripPrefix: '/hello' },
  hooks: {
    onRequest (request, reply, ctx) {
      ctx.state.startedBy = 'hello-route'
      if (ctx.match.rest === '') reply.send({ hello: 'from a TypeScript route', requestId: ctx.requestId })
    },
    upstreamRequest (_request, headers, ctx) {
      headers['x-hello'] = String(ctx.state.startedBy)
    }
  }
})
