// Plain @fastify/http-proxy in front of one upstream, as its README sets it up: the
// reference Tollgate is compared with. Prints its port.
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const upstream = process.argv[2]
const app = Fastify({ logger: false })
await app.register(proxy, { upstream, prefix: '/' })
await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${app.server.address().port}\n`)
process.on('SIGINT', () => process.exit(0))
