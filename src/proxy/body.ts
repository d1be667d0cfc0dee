/**
 * A request body that reads nothing from the client until the upstream connection asks
 * for it. undici destroys the body stream it was given when an attempt fails; handing it
 * this wrapper instead of the client's stream keeps the client's stream intact, so when no
 * byte was read yet, a retry on the next target can send the whole body. A body that
 * declared no length is counted against the size limit here, as it is read: nothing is
 * read ahead of the upstream, so nothing is buffered beyond what it takes.
 */
import { Readable } from 'node:stream'
import { payloadTooLarge } from '../limits/body-limit.js'

export class DeferredBody extends Readable {
  private readonly source: Readable
  /** Bytes this attempt may read, or Infinity; counted here, where the bytes are read. */
  private readonly limit: number
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

  constructor (source: Readable, limit = Infinity) {
    super()
    this.source = source
    this.limit = limit
  }

  /** True once any byte may have left the client's stream: the body cannot be replayed. */
  get consumed (): boolean {
    return this.started
  }

  override _read (): void {
    if (!this.started) {
      this.started = true
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
