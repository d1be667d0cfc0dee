/**
 * HTTP CONNECT forward proxies for tests, on 127.0.0.1 with ephemeral ports, closed by
 * `t.after`. `startConnectProxy` is a working proxy (node:http's `connect` event, piped to
 * the target) that records every CONNECT it gets and the bytes it carried towards the
 * target; it only opens tunnels to loopback. `startRawProxy` reads the CONNECT head and
 * hands the socket to the test, for proxies that misbehave.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TestContext } from 'node:test'
import { once } from 'node:events'

/** Bytes kept per tunnel of what went towards the target: enough to look for plaintext. */
const KEPT_BYTES = 64 * 1024

export interface ConnectRecord {
  /** The request line as sent: `CONNECT 127.0.0.1:4000 HTTP/1.1`. */
  readonly line: string
  readonly authority: string
  readonly headers: IncomingMessage['headers']
  /** What the gateway sent through the tunnel (its first KEPT_BYTES). */
  readonly toTarget: Buffer[]
}

export interface ConnectProxy {
  readonly port: number
  readonly url: string
  readonly connects: ConnectRecord[]
  /** Tunnels open now. */
  readonly open: Set<Socket>
  close (): Promise<void>
}

export interface ConnectProxyOptions {
  /**
   * Decides per CONNECT: a status (403, 407, 502…) to refuse with, or null to open the
   * tunnel. Default: every tunnel to loopback is opened.
   */
  refuse?: (record: ConnectRecord) => number | null
  /** Names only this proxy can resolve, to loopback addresses (as a proxy's own DNS). */
  hosts?: Readonly<Record<string, string>>
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost):\d+$/

export async function startConnectProxy (t: TestContext, options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const connects: ConnectRecord[] = []
  const open = new Set<Socket>()
  const clients = new Set<Duplex>()
  const server: Server = createServer((_req, res) => {
    res.statusCode = 405
    res.end('CONNECT only')
  })
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    clients.add(client)
    client.on('close', () => clients.delete(client))
    client.on('error', () => undefined)
    const authority = req.url ?? ''
    const record: ConnectRecord = { line: `${req.method ?? ''} ${authority} HTTP/${req.httpVersion}`, authority, headers: req.headers, toTarget: [] }
    connects.push(record)
    const colon = authority.lastIndexOf(':')
    const name = authority.slice(0, colon).replace(/^\[|\]$/g, '')
    const host = options.hosts?.[name] ?? name
    const port = authority.slice(colon + 1)
    const refused = options.refuse?.(record) ?? (LOOPBACK.test(`${host}:${port}`) ? null : 403)
    if (refused !== null) {
      client.end(`HTTP/1.1 ${refused} Refused\r\ncontent-length: 0\r\n\r\n`)
      return
    }
    const upstream = connect({ host, port: Number(port) })
    open.add(upstream)
    upstream.on('close', () => { open.delete(upstream); client.destroy() })
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      let kept = 0
      const keep = (chunk: Buffer): void => {
        if (kept >= KEPT_BYTES) return
        record.toTarget.push(chunk.subarray(0, KEPT_BYTES - kept))
        kept += chunk.length
      }
      if (head.length > 0) {
        keep(head)
        upstream.write(head)
      }
      client.on('data', keep)
      client.pipe(upstream)
      upstream.pipe(client)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  const proxy: ConnectProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    connects,
    open,
    close: async () => {
      for (const socket of open) socket.destroy()
      for (const client of clients) client.destroy()
      server.closeAllConnections()
      if (server.listening) await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
  t.after(() => proxy.close())
  return proxy
}

export interface RawProxy {
  readonly port: number
  readonly url: string
  /** The CONNECT heads received, as text. */
  readonly heads: string[]
}

/**
 * A proxy whose answer is the test's: `onConnect` gets the socket once a whole CONNECT head
 * (up to the blank line) has arrived, and the head.
 */
export async function startRawProxy (t: TestContext, onConnect: (socket: Socket, head: string) => void): Promise<RawProxy> {
  const heads: string[] = []
  const sockets = new Set<Socket>()
  const server = createNetServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let text = ''
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onData)
      const head = text.slice(0, end)
      heads.push(head)
      onConnect(socket, head)
    }
    socket.on('data', onData)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return { port, url: `http://127.0.0.1:${port}`, heads }
}
