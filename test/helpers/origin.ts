/**
 * Real upstream servers for tests, on 127.0.0.1 with ephemeral ports (or Unix sockets),
 * always closed by `t.after`. The lab's Blue and Green answer `Response from BLUE` /
 * `Response from GREEN`; every origin records what it received.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type Server as NetServer, type Socket, type AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { once } from 'node:events'

export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
  /** The gateway side's port: equal ports mean a reused connection. */
  readonly remotePort: number
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void

export interface Origin {
  readonly name: string
  readonly port: number
  /** host:port, as a target. */
  readonly address: string
  readonly url: string
  readonly received: ReceivedRequest[]
  readonly server: Server
  close (): Promise<void>
}

export interface OriginOptions {
  /** Default: answers `Response from <NAME>` with x-upstream: <name>. */
  handler?: OriginHandler
  /** Listen on this loopback address (default 127.0.0.1), and on `port` when given. */
  host?: string
  port?: number
  /** Listen on this Unix socket path instead of a TCP port. */
  socketPath?: string
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string | Buffer, cert: string | Buffer, ca?: string | Buffer, requestCert?: boolean, rejectUnauthorized?: boolean }
}

export const answerWithName = (name: string): OriginHandler => (_req, res) => {
  res.setHeader('x-upstream', name)
  res.setHeader('content-type', 'text/plain')
  res.end(`Response from ${name.toUpperCase()}`)
}

/** Starts an origin; it reads each request body fully before calling the handler. */
export async function startOrigin (t: TestContext | null, name: string, options: OriginOptions = {}): Promise<Origin> {
  const received: ReceivedRequest[] = []
  const handler = options.handler ?? answerWithName(name)
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, remotePort: req.socket.remotePort ?? 0 })
      handler(req, res, body)
    })
  }
  const server = options.tls === undefined
    ? createServer({ keepAliveTimeout: 30_000 }, onRequest)
    : createHttpsServer({ ...options.tls, keepAliveTimeout: 30_000 }, onRequest) as unknown as Server
  if (options.socketPath !== undefined) server.listen(options.socketPath)
  else server.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  await once(server, 'listening')
  const host = options.host ?? '127.0.0.1'
  const port = options.socketPath === undefined ? (server.address() as AddressInfo).port : 0
  const scheme = options.tls === undefined ? 'http' : 'https'
  const origin: Origin = {
    name,
    port,
    address: `${host}:${port}`,
    url: `${scheme}://${host}:${port}`,
    received,
    server,
    close: async () => {
      server.closeAllConnections()
      if (server.listening) await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
  t?.after(() => origin.close())
  return origin
}

/** A raw TCP server whose behaviour per connection is `onConnection` (garbage, drops…). */
export async function startRawOrigin (t: TestContext, onConnection: (socket: Socket) => void): Promise<{ port: number, address: string, server: NetServer, connections: number }> {
  const state = { port: 0, address: '', server: createNetServer(), connections: 0 }
  state.server.on('connection', (socket) => {
    state.connections++
    socket.on('error', () => undefined)
    onConnection(socket)
  })
  state.server.listen(0, '127.0.0.1')
  await once(state.server, 'listening')
  state.port = (state.server.address() as AddressInfo).port
  state.address = `127.0.0.1:${state.port}`
  const sockets = new Set<Socket>()
  state.server.on('connection', s => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => state.server.close(() => resolve()))
  })
  return state
}
