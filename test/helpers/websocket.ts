/**
 * WebSocket ends for tests, both from the `ws` package: an echo origin on 127.0.0.1 (plain
 * or TLS) that records each upgrade it accepted, and a client that collects what it gets.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { once } from 'node:events'
import WebSocket, { WebSocketServer, type ServerOptions, type ClientOptions, type RawData } from 'ws'
import { within } from './deadline.js'

export interface WebSocketOrigin {
  readonly address: string
  readonly port: number
  /** The upgrade requests it accepted, in order. */
  readonly upgrades: IncomingMessage[]
  /** Its open server-side sockets. */
  readonly sockets: Set<WebSocket>
  readonly wss: WebSocketServer
  readonly server: Server
}

export interface WebSocketOriginOptions {
  /** ws server options (handleProtocols, perMessageDeflate…). */
  readonly ws?: ServerOptions
  /** TLS: serve wss with this certificate. */
  readonly tls?: { readonly cert: Buffer, readonly key: Buffer }
}

/** An origin that echoes every message back as it came (text as text, binary as binary). */
export async function startWebSocketOrigin (t: TestContext, options: WebSocketOriginOptions = {}): Promise<WebSocketOrigin> {
  const server = options.tls === undefined ? createServer() : createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
  const wss = new WebSocketServer({ ...options.ws, server: server as Server })
  const upgrades: IncomingMessage[] = []
  const sockets = new Set<WebSocket>()
  wss.on('connection', (socket, req) => {
    upgrades.push(req)
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
    socket.on('error', () => undefined)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  t.after(async () => {
    for (const socket of sockets) socket.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return { address: `127.0.0.1:${port}`, port, upgrades, sockets, wss, server: server as Server }
}

/** A refused handshake: what the client got instead of 101. */
export interface RefusedHandshake {
  readonly status: number
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

/**
 * Opens a WebSocket through `url` (ws://…); resolves with the open socket, or with the
 * HTTP response the server answered instead of 101.
 */
export async function openWebSocket (t: TestContext, url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<WebSocket | RefusedHandshake> {
  const socket = new WebSocket(url, protocols, options)
  t.after(() => socket.terminate())
  const outcome = new Promise<WebSocket | RefusedHandshake>((resolve, reject) => {
    socket.once('open', () => resolve(socket))
    socket.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    socket.once('error', reject)
  })
  return await within(outcome, 5000, `no answer to the WebSocket upgrade of ${url}`)
}

/** `openWebSocket` that must succeed. */
export async function connectWebSocket (t: TestContext, url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<WebSocket> {
  const result = await openWebSocket(t, url, protocols, options)
  if (!(result instanceof WebSocket)) throw new Error(`expected 101, got ${result.status}: ${result.body}`)
  return result
}

/** `openWebSocket` that must be refused. */
export async function refusedWebSocket (t: TestContext, url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<RefusedHandshake> {
  const result = await openWebSocket(t, url, protocols, options)
  if (result instanceof WebSocket) throw new Error('expected a refusal, the upgrade was accepted')
  return result
}

/** The next message `socket` receives. */
export async function nextMessage (socket: WebSocket, ms = 5000): Promise<{ data: Buffer, isBinary: boolean }> {
  const message = new Promise<{ data: Buffer, isBinary: boolean }>(resolve => {
    socket.once('message', (data: RawData, isBinary: boolean) => resolve({ data: toBuffer(data), isBinary }))
  })
  return await within(message, ms, 'no message arrived')
}

/** The close `socket` receives: code and reason. */
export async function closeOf (socket: WebSocket, ms = 5000): Promise<{ code: number, reason: string }> {
  const closing = new Promise<{ code: number, reason: string }>(resolve => {
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
  })
  return await within(closing, ms, 'the WebSocket did not close')
}

function toBuffer (data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

export { WebSocket }
