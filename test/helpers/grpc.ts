/**
 * A real gRPC origin (@grpc/grpc-js) for the gateway's tests, over h2c or TLS h2, serving
 * test/fixtures/echo.proto, and clients for it. Closed after the test.
 */
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

const PROTO = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url))

export interface EchoMessage {
  text?: string
  count?: number
  code?: number
  delay_ms?: number
}

type Callback = (error: grpc.ServiceError | null, value?: EchoMessage) => void

export interface EchoClient extends grpc.Client {
  Unary (message: EchoMessage, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientUnaryCall
  ServerStream (message: EchoMessage, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<EchoMessage>
  ClientStream (metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientWritableStream<EchoMessage>
  Bidi (metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<EchoMessage, EchoMessage>
  Fail (message: EchoMessage, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientUnaryCall
  Slow (message: EchoMessage, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientUnaryCall
}

type EchoConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => EchoClient

function echoService (): { service: grpc.ServiceDefinition, Client: EchoConstructor } {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true })
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { tollgate: { test: { Echo: EchoConstructor & { service: grpc.ServiceDefinition } } } }
  const Echo = loaded.tollgate.test.Echo
  return { service: Echo.service, Client: Echo }
}

export interface GrpcOrigin {
  readonly port: number
  readonly address: string
  /** Calls received, by method name. */
  readonly calls: string[]
  /** Calls the client cancelled before they were answered, by method name. */
  readonly cancelled: string[]
  close (): Promise<void>
}

/** `tls`: serve TLS h2 with this key and certificate; else h2c. */
export async function startGrpcOrigin (t: TestContext, options: { tls?: { key: string | Buffer, cert: string | Buffer } } = {}): Promise<GrpcOrigin> {
  const { service } = echoService()
  const server = new grpc.Server()
  const calls: string[] = []
  const cancelled: string[] = []
  const metadataEcho = (call: { metadata: grpc.Metadata, sendMetadata: (m: grpc.Metadata) => void }): void => {
    const out = new grpc.Metadata()
    const seen = call.metadata.get('x-echo')[0]
    if (seen !== undefined) out.set('x-echo', String(seen))
    call.sendMetadata(out)
  }
  server.addService(service, {
    Unary: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      calls.push('Unary')
      metadataEcho(call)
      const trailer = new grpc.Metadata()
      trailer.set('x-trailer', 'from-origin')
      callback(null, { text: `echo: ${call.request.text ?? ''}` }, trailer)
    },
    ServerStream: (call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) => {
      calls.push('ServerStream')
      for (let i = 0; i < (call.request.count ?? 0); i++) call.write({ text: `${call.request.text ?? ''} ${i}`, count: i })
      call.end()
    },
    ClientStream: (call: grpc.ServerReadableStream<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      calls.push('ClientStream')
      const texts: string[] = []
      call.on('data', (m: EchoMessage) => texts.push(m.text ?? ''))
      call.on('end', () => callback(null, { text: texts.join(','), count: texts.length }))
    },
    Bidi: (call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) => {
      calls.push('Bidi')
      call.on('data', (m: EchoMessage) => call.write({ text: `echo: ${m.text ?? ''}` }))
      call.on('end', () => call.end())
    },
    Fail: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      calls.push('Fail')
      callback({ code: call.request.code ?? grpc.status.UNKNOWN, details: call.request.text ?? 'failed' }, null)
    },
    Slow: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      calls.push('Slow')
      const timer = setTimeout(() => callback(null, { text: 'late' }), call.request.delay_ms ?? 0)
      call.on('cancelled', () => {
        clearTimeout(timer)
        cancelled.push('Slow')
      })
    }
  })
  const credentials = options.tls === undefined
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(options.tls.key), cert_chain: Buffer.from(options.tls.cert) }], false)
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (err, bound) => { if (err !== null) reject(err); else resolve(bound) })
  })
  const origin: GrpcOrigin = {
    port,
    address: `127.0.0.1:${port}`,
    calls,
    cancelled,
    close: async () => { await new Promise<void>(resolve => server.tryShutdown(() => resolve())) }
  }
  t.after(async () => {
    server.forceShutdown()
  })
  return origin
}

/** A client of the Echo service at `address` (host:port): TLS with `ca` (and `servername`), else h2c. */
export function echoClient (t: TestContext, address: string, options: { ca?: string | Buffer, servername?: string } = {}): EchoClient {
  const { Client } = echoService()
  const credentials = options.ca === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(Buffer.from(options.ca))
  const client = new Client(address, credentials, options.servername === undefined ? {} : { 'grpc.ssl_target_name_override': options.servername, 'grpc.default_authority': options.servername })
  t.after(() => { client.close() })
  return client
}

/** A unary call as a promise; rejects with the ServiceError. */
export async function unary (call: (callback: Callback) => unknown): Promise<EchoMessage> {
  return await new Promise((resolve, reject) => {
    call((err, value) => { if (err !== null) reject(err); else resolve(value ?? {}) })
  })
}

export { grpc }
