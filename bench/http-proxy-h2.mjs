// Plain Fastify over HTTP/2 (TLS, ALPN, HTTP/1.1 fallback) with @fastify/http-proxy in front
// of one HTTP/1.1 upstream: the reference for Tollgate's HTTP/2 listener. Arguments: the
// upstream URL, the key file, the certificate file. Prints its port.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const [upstream, keyFile, certFile] = process.argv.slice(2)
const app = Fastify({ logger: false, http2: true, https: { allowHTTP1: true, key: readFileSync(keyFile), cert: readFileSync(certFile) } })
await app.register(proxy, { upstream, prefix: '/' })
await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${app.server.address().port}\n`)
process.on('SIGINT', () => process.exit(0))
