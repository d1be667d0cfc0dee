/**
 * The request body on its way upstream. Fastify parses no body here: the client's raw
 * request is the body, streamed as it arrives, whatever the method.
 *
 * `DeferredBody` reads nothing from the client until the upstream connection asks for it.
 * undici destroys the body stream it was given when an attempt fails; handing it this
 * wrapper instead of the client's stream keeps the client's stream intact, so when no byte
 * was read yet, a retry on the next target can send the whole body. A body that declared
 * no length is counted against the size limit here, as it is read: nothing is read ahead
 * of the upstream, so nothing is buffered beyond what it takes. Bytes held back for
 * inspection (see `holdBack`) go first.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { payloadTooLarge } from '../limits/body-limit.js'

/**
 * The client's body when the request declares one (a length other than 0, or chunked).
 * HTTP/2 has no chunked coding: a request has a body unless its HEADERS frame ended the
 * stream, with or without a Content-Length.
 */
export function requestBody (req: IncomingMessage): Readable | null {
  const headers = req.headers
  const length = headers['content-length']
  if (req.httpVersionMajor === 2) return length === '0' || (req as unknown as H2Request).stream.endAfterHeaders ? null : req
  if (headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) return req
  return null
}

/** The part of node:http2's compat request read here. */
interface H2Request { readonly stream: { readonly endAfterHeaders: boolean } }

/**
 * `Expect: 100-continue` from an HTTP/1.1 or HTTP/2 client (Node answers other
 * expectations with 417 on HTTP/1.1; on HTTP/2 there is no other).
 */
export function expectsContinue (req: IncomingMessage): boolean {
  const expect = req.headers.expect
  return expect !== undefined && (req.httpVersionMajor === 2 || (req.httpVersionMajor === 1 && req.httpVersionMinor === 1)) && expect.toLowerCase() === '100-continue'
}

/**
 * Reads the first `maxBytes` of `source` (all of it when shorter) and leaves the rest
 * unread, paused, for whoever streams it on. Rejects when the client goes away first.
 */
export async function holdBack (source: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let held = 0
  return await new Promise((resolve, reject) => {
    const done = (): void => {
      source.off('data', onData)
      source.off('end', onEnd)
      source.off('error', onError)
      source.off('close', onClose)
      source.pause()
    }
    const onData = (chunk: Buffer): void => {
      const room = maxBytes - held
      if (chunk.length <= room) {
        chunks.push(chunk)
        held += chunk.length
        if (held < maxBytes) return
        done()
      } else {
        chunks.push(chunk.subarray(0, room))
        held = maxBytes
        // Stop listening first: in flowing mode the unshifted bytes would come straight back.
        done()
        source.unshift(chunk.subarray(room))
      }
      resolve(Buffer.concat(chunks, held))
    }
    const onEnd = (): void => {
      done()
      resolve(Buffer.concat(chunks, held))
    }
    const onError = (err: Error): void => {
      done()
      reject(err)
    }
    const onClose = (): void => {
      done()
      reject(new Error('the client closed the connection while sending its body'))
    }
    source.on('data', onData)
    source.once('end', onEnd)
    source.once('error', onError)
    source.once('close', onClose)
  })
}

export class DeferredBody extends Readable {
  private readonly source: Readable
  /** Bytes this attempt may read, or Infinity; counted here, where the bytes are read. */
  private readonly limit: number
  /** Bytes already read from the client (held back for inspection), sent first. */
  private readonly prefix: Buffer | null
  private received = 0
  private started = false
  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.length
    if (this.received > this.limit) {
      // The client keeps its stream (unread): the gateway answers 413 and closes.
      this.destroy(payloadTooLarge(this.limit))
      return
    }
    if (!this.push(chunk)) this.source.pause()
  }

  private readonly onEnd = (): void => {
    this.push(null)
  }

  private readonly onError = (err: Error): void => {
    this.destroy(err)
  }

  constructor (source: Readable, limit = Infinity, prefix: Buffer | null = null) {
    super()
    this.source = source
    this.limit = limit
    this.prefix = prefix
  }

  /** True once any byte may have left the client's stream: the body cannot be replayed. */
  get consumed (): boolean {
    return this.started
  }

  override _read (): void {
    if (!this.started) {
      this.started = true
      if (this.prefix !== null && this.prefix.length > 0) {
        this.received = this.prefix.length
        this.push(this.prefix)
      }
      if (this.source.readableEnded) {
        this.push(null)
        return
      }
      this.source.on('data', this.onData)
      this.source.once('end', this.onEnd)
      this.source.once('error', this.onError)
    }
    this.source.resume()
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    this.source.off('data', this.onData)
    this.source.off('end', this.onEnd)
    this.source.off('error', this.onError)
    if (this.started) this.source.pause()
    callback(err)
  }
}
