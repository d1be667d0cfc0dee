/**
 * logging: one access-log line per finished request (`server.accessLog`), from Fastify's
 * onResponse, which also runs for early answers, errors and 404s. Off, it costs nothing:
 * the hooks are not added. On, it reads what the request left behind (its context, the
 * connection's byte counters, one clock reading) and measures nothing while it runs; the
 * abort hook costs one 'close' listener per request (Fastify adds it).
 */
import fp from 'fastify-plugin'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayPluginOptions } from './options.js'
import { plainAddress } from '../src/context.js'
import { compileQueryRedactor } from '../src/log/redact.js'
import type { GatewayResponse } from '../src/server/listener.js'

/** The connection's byte counters when its previous request was logged. */
const kLoggedBytes = Symbol('tollgate.loggedBytes')

type CountedSocket = Socket & { [kLoggedBytes]?: { read: number, written: number } }

async function accessLog (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  const { server } = options.config
  if (!server.accessLog) return
  const redactUrl = compileQueryRedactor(server.redactQuery)
  /** logging (onResponse, after the response was handed to the socket). Never throws. */
  app.addHook('onResponse', (request, reply, done) => {
    writeLine(request, reply, reply.statusCode, redactUrl)
    done()
  })
  /**
   * logging for a client that left before its response was complete: onResponse never
   * runs then. Logged as 499, nginx's "client closed request".
   */
  app.addHook('onRequestAbort', (request, done) => {
    writeLine(request, null, CLIENT_CLOSED, redactUrl)
    done()
  })
}

function errorField (code: string | null): { error?: string } {
  return code === null ? {} : { error: code }
}

/** nginx's status for a request whose client closed the connection first. */
const CLIENT_CLOSED = 499

function writeLine (request: FastifyRequest, reply: FastifyReply | null, status: number, redactUrl: (url: string) => string): void {
  const ctx = request.tollgate
  const bytes = bytesOf(request, reply)
  // Fastify keeps the request's start time on the reply, which abort hooks are not given.
  const ms = reply !== null ? reply.elapsedTime : undefined
  request.log.info({
    ip: ctx !== null ? ctx.ip : plainAddress(request.ip),
    method: request.method,
    // What the client sent (nginx's $request_uri); the route saw its normalised form.
    url: redactUrl(request.originalUrl),
    route: ctx?.route.name,
    upstream: ctx?.upstream?.name,
    target: ctx?.target?.id,
    status,
    bytesIn: bytes.in,
    bytesOut: bytes.out,
    ms: ms === undefined ? undefined : round(ms),
    upstreamMs: ctx !== null && ctx.upstreamStartedAt >= 0 ? round(upstreamMs(ctx.upstreamStartedAt, ms ?? Infinity)) : undefined,
    retries: ctx !== null && ctx.tries > 1 ? ctx.tries - 1 : 0,
    cache: ctx?.cacheStatus ?? undefined,
    ...errorField(ctx?.error?.code ?? (reply?.raw as GatewayResponse | undefined)?.errorCode ?? null)
  }, 'request')
}

/**
 * From the first attempt to now, which may be a little after the response ended (this
 * hook can wait behind other work): never more than the request's own time. For a client
 * that left, until it left.
 */
function upstreamMs (startedAt: number, totalMs: number): number {
  return Math.min(performance.now() - startedAt, totalMs)
}

function round (ms: number): number {
  return Math.round(ms * 100) / 100
}

/**
 * Bytes read from and written to the client for this request, head and body (nginx's
 * $request_length and $bytes_sent): what the connection's counters moved by since the
 * previous request on it was logged. HTTP/2 streams share one connection, so there they
 * are the declared body lengths (undefined when not declared).
 */
function bytesOf (request: FastifyRequest, reply: FastifyReply | null): { in: number | undefined, out: number | undefined } {
  const raw = request.raw
  if (raw.httpVersionMajor >= 2) {
    return { in: declaredLength(raw.headers['content-length']) ?? 0, out: reply === null ? 0 : declaredLength(reply.getHeader('content-length')) }
  }
  const socket = raw.socket as CountedSocket
  const read = socket.bytesRead
  const written = socket.bytesWritten
  const before = socket[kLoggedBytes]
  if (before === undefined) {
    socket[kLoggedBytes] = { read, written }
    return { in: read, out: written }
  }
  const counted = { in: read - before.read, out: written - before.written }
  before.read = read
  before.written = written
  return counted
}

function declaredLength (value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : NaN
  return Number.isFinite(n) ? n : undefined
}

export default fp(accessLog, { name: 'tollgate-access-log', fastify: '5.x' })
