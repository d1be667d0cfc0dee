/**
 * A request body that reads nothing from the client until the upstream connection asks
 * for it. undici destroys the body stream it was given when an attempt fails; handing it
 * this wrapper instead of the client's stream keeps the client's stream intact, so when no
 * byte was read yet, a retry on the next target can send the whole body.
 */
import { Readable } from 'node:stream'

export class DeferredBody extends Readable {
  private readonly source: Readable
  private started = false
  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.source.pause()
  }

  private readonly onEnd = (): void => {
    this.push(null)
  }

  private readonly onError = (err: Error): void => {
    this.destroy(err)
  }

  constructor (source: Readable) {
    super()
    this.source = source
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
