/**
 * JSON Web Tokens for tests: key pairs made with node:crypto at test time, tokens signed
 * with fast-jwt or put together by hand (for what no signer would make: `alg: none`, an
 * HS256 token keyed with a public key, garbage segments), and a JWKS server on 127.0.0.1
 * whose keys and behaviour a test changes while it runs.
 */
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { once } from 'node:events'
import { createSigner } from 'fast-jwt'

export interface KeyPair {
  readonly publicKey: KeyObject
  readonly privateKey: KeyObject
  /** SPKI PEM of the public key. */
  readonly publicPem: string
  readonly privatePem: string
}

export function keyPair (kind: 'rsa' | 'ec-p256' | 'ed25519'): KeyPair {
  const { publicKey, privateKey } = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : kind === 'ec-p256'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : generateKeyPairSync('ed25519')
  return {
    publicKey,
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  }
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** A token signed by fast-jwt: `key` is a secret (HS*) or a private key PEM. */
export function sign (payload: Record<string, unknown>, key: string, algorithm: string, header: Record<string, unknown> = {}): string {
  const signer = createSigner({ key, algorithm: algorithm as 'HS256', header: header as never, noTimestamp: false })
  return signer(payload)
}

export function base64url (value: string | Buffer): string {
  return Buffer.from(value).toString('base64url')
}

/**
 * A token put together by hand; `signature` is computed by `signer` over `header.payload`.
 * A string header or payload is taken as the JSON text itself.
 */
export function handMade (header: unknown, payload: unknown, signer: (input: string) => string = () => ''): string {
  const json = (value: unknown): string => typeof value === 'string' ? value : JSON.stringify(value)
  const input = `${base64url(json(header))}.${base64url(json(payload))}`
  return `${input}.${signer(input)}`
}

/** An HMAC-SHA256 signer keyed with `secret` (for HS256 tokens made by hand). */
export function hs256 (secret: string | Buffer): (input: string) => string {
  return input => createHmac('sha256', secret).update(input).digest('base64url')
}

export interface JwksServer {
  readonly url: string
  /** Requests the server has answered (or held). */
  readonly hits: () => number
  /** The JWKs it serves, in the order given. */
  setKeys (keys: readonly Jwk[]): void
  /** ok: serve the keys; hang: accept and never answer; fail: 500; garbage: not JSON. */
  setMode (mode: 'ok' | 'hang' | 'fail' | 'garbage'): void
  /** Resolves when the next request arrives. */
  nextRequest (): Promise<void>
  /** Stops listening and drops every connection: the server is down. */
  stop (): Promise<void>
}

export type Jwk = Record<string, unknown>

/** The public half of `pair` as a JWK with `kid` (and `alg` when given). */
export function jwkOf (pair: KeyPair, kid: string, alg?: string): Jwk {
  return { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', ...(alg === undefined ? {} : { alg }) }
}

export async function startJwksServer (t: TestContext, keys: readonly Jwk[], path = '/.well-known/jwks.json'): Promise<JwksServer> {
  let current = [...keys]
  let mode: 'ok' | 'hang' | 'fail' | 'garbage' = 'ok'
  let hits = 0
  let waiting: (() => void)[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    hits++
    const waiters = waiting
    waiting = []
    for (const w of waiters) w()
    if (req.url !== path) { res.statusCode = 404; res.end(); return }
    if (mode === 'hang') return
    if (mode === 'fail') { res.statusCode = 500; res.end('{"error":"down"}'); return }
    res.setHeader('content-type', 'application/json')
    res.end(mode === 'garbage' ? '{"keys": [ not json' : JSON.stringify({ keys: current }))
  })
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  const stop = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    if (server.listening) await new Promise<void>(resolve => server.close(() => resolve()))
  }
  t.after(stop)
  return {
    url: `http://127.0.0.1:${port}${path}`,
    hits: () => hits,
    setKeys: (next) => { current = [...next] },
    setMode: (next) => { mode = next },
    nextRequest: async () => await new Promise<void>(resolve => waiting.push(resolve)),
    stop
  }
}
