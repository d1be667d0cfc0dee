/**
 * A real HTTP/2-only origin on 127.0.0.1: h2c (node:http2 createServer, prior knowledge
 * only: HTTP/1.1 is refused) or h2 over TLS (createSecureServer with the test PKI, ALPN h2
 * only). It counts sessions and the streams open at once, and records each request's head.
 */
import { createSecureServer, createServer, type Http2Server, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import type { TestContext } from 'node:test'
import type { TestPki } from './certs.js'

export type H2Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, origin: H2Origin) => void

export interface H2Origin {
  readonly server: Http2Server | Http2SecureServer
  readonly port: number
  readonly address: string
  /** Every session the origin accepted, in order. */
  readonly sessions: ServerHttp2Session[]
  /** Request heads, in arrival order. */
  readonly requests: IncomingHttpHeaders[]
  /** Streams open at this moment, and the most ever open at once (over all sessions). */
  open: number
  maxOpen: number
}

export interface H2OriginOptions {
  /** Serve h2 over TLS with this PKI's server certificate; without it, h2c. */
  readonly pki?: TestPki
  /** Ask for the client's certificate (signed by the PKI's CA). */
  readonly requestCert?: boolean
}

/** Answers 200 with `name` as the body. */
export const answerH2 = (name: string): H2Handler => (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain' })
  stream.end(name)
}

export async function startH2Origin (t: TestContext, handler: H2Handler, options: H2OriginOptions = {}): Promise<H2Origin> {
  const pki = options.pki
  const server = pki === undefined
    ? createServer()
    : createSecureServer({ key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, allowHTTP1: false, requestCert: options.requestCert === true, rejectUnauthorized: options.requestCert === true })
  const origin: H2Origin = { server, port: 0, address: '', sessions: [], requests: [], open: 0, maxOpen: 0 }
  server.on('session', (session: ServerHttp2Session) => {
    origin.sessions.push(session)
    session.on('error', () => undefined)
  })
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    origin.requests.push(headers)
    origin.open++
    origin.maxOpen = Math.max(origin.maxOpen, origin.open)
    stream.once('close', () => { origin.open-- })
    // A test's hostile origin resets streams: their errors are expected here.
    stream.on('error', () => undefined)
    handler(stream, headers, origin)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the h2 origin has no port')
  ;(origin as { port: number }).port = address.port
  ;(origin as { address: string }).address = `127.0.0.1:${address.port}`
  t.after(async () => {
    for (const session of origin.sessions) session.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return origin
}

/** An HTTP/2 frame (RFC 9113 §4.1) as bytes. */
export function h2Frame (type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head.writeUInt8(type, 3)
  head.writeUInt8(flags, 4)
  head.writeUInt32BE(streamId & 0x7fffffff, 5)
  return Buffer.concat([head, payload])
}

/** HEADERS (END_HEADERS) carrying only `:status: 200` (HPACK static index 8). */
export const H2_HEADERS_200 = (streamId: number, endStream = false): Buffer => h2Frame(1, 0x4 | (endStream ? 0x1 : 0), streamId, Buffer.from([0x88]))

/** RST_STREAM with an RFC 9113 §7 error code. */
export const h2Reset = (streamId: number, code: number): Buffer => {
  const payload = Buffer.alloc(4)
  payload.writeUInt32BE(code)
  return h2Frame(3, 0, streamId, payload)
}

/**
 * A hand-written HTTP/2 origin, for what node:http2 will not send (a reset in the middle of
 * a body): it answers the client's preface with SETTINGS (`settings`: their payload) and acks
 * the client's, and calls
 * `onRequest` with the id of each HEADERS frame the client opens a stream with.
 */
export async function startRawH2Origin (t: TestContext, onRequest: (socket: import('node:net').Socket, streamId: number) => void, settings: Buffer = Buffer.alloc(0)): Promise<{ port: number, address: string, connections: () => number }> {
  const { createServer: createNetServer } = await import('node:net')
  const sockets = new Set<import('node:net').Socket>()
  let accepted = 0
  const server = createNetServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => sockets.delete(socket))
    let buffered = Buffer.alloc(0)
    let prefaceSeen = false
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (!prefaceSeen) {
        if (buffered.length < 24) return
        buffered = buffered.subarray(24)
        prefaceSeen = true
        socket.write(h2Frame(4, 0, 0, settings))
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3)
        if (buffered.length < 9 + length) return
        const type = buffered.readUInt8(3)
        const flags = buffered.readUInt8(4)
        const streamId = buffered.readUInt32BE(5) & 0x7fffffff
        buffered = buffered.subarray(9 + length)
        if (type === 4 && (flags & 0x1) === 0) socket.write(h2Frame(4, 0x1, 0))
        if (type === 1) onRequest(socket, streamId)
      }
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the raw h2 origin has no port')
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return { port: address.port, address: `127.0.0.1:${address.port}`, connections: () => accepted }
}

/** An HPACK integer (RFC 7541 §5.1) with a `prefix`-bit prefix, its first byte or-ed with `first`. */
function hpackInteger (value: number, prefix: number, first = 0): number[] {
  const max = (1 << prefix) - 1
  if (value < max) return [first | value]
  const bytes = [first | max]
  let rest = value - max
  while (rest >= 128) {
    bytes.push((rest & 0x7f) | 0x80)
    rest >>= 7
  }
  bytes.push(rest)
  return bytes
}

/** A header field as an HPACK literal without indexing, new name (RFC 7541 §6.2.2). */
export function hpackLiteral (name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x00, ...hpackInteger(name.length, 7)]), Buffer.from(name, 'latin1'),
    Buffer.from(hpackInteger(value.length, 7)), Buffer.from(value, 'latin1')
  ])
}

/** A header block as HEADERS plus CONTINUATION frames of at most 16 KiB (the default frame size). */
export function h2HeaderFrames (streamId: number, block: Buffer, endStream: boolean): Buffer {
  const frames: Buffer[] = []
  for (let at = 0; at < block.length || at === 0; at += 16384) {
    const part = block.subarray(at, at + 16384)
    const last = at + 16384 >= block.length
    const type = at === 0 ? 1 : 9
    const flags = (last ? 0x4 : 0) | (at === 0 && endStream ? 0x1 : 0)
    frames.push(h2Frame(type, flags, streamId, part))
  }
  return Buffer.concat(frames)
}
