// The guarded route's reference: @fastify/http-proxy with @fastify/rate-limit and
// @fastify/jwt doing what Tollgate's guarded route does — an address check (Node's
// BlockList), a JWT HS256 check, a rate limit per address that is never reached, and the
// Authorization header kept from the upstream. Prints its port.
// Arguments: <upstream url> <JWT secret>.
import { BlockList } from 'node:net'
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'
import rateLimit from '@fastify/rate-limit'
import jwt from '@fastify/jwt'

const [upstream, secret] = process.argv.slice(2)
const allowed = new BlockList()
allowed.addSubnet('127.0.0.0', 8, 'ipv4')

const app = Fastify({ logger: false })
await app.register(jwt, { secret, verify: { algorithms: ['HS256'] } })
await app.register(rateLimit, { max: 1_000_000_000, timeWindow: 1000 })
app.addHook('onRequest', async (request, reply) => {
  if (!allowed.check(request.ip, 'ipv4')) return await reply.code(403).send({ error: 'forbidden' })
  await request.jwtVerify()
})
await app.register(proxy, {
  upstream,
  prefix: '/',
  replyOptions: {
    rewriteRequestHeaders: (request, headers) => {
      const { authorization, ...rest } = headers
      return rest
    }
  }
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${app.server.address().port}\n`)
process.on('SIGINT', () => process.exit(0))
