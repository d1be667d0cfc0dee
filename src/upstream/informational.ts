/**
 * Unsolicited `100 Continue` from an upstream. RFC 9110 §15.2: "A client MUST be able to
 * parse one or more 1xx responses received prior to a final response, even if the client
 * does not expect one." Some servers send a 100 before every response to a request with a
 * body. undici 7's HTTP/1.1 parser passes other 1xx responses to the handler (the attempt
 * skips them) but treats a 100 as a protocol error and destroys the connection, so the
 * request would fail with 502 after the upstream had in fact answered.
 *
 * undici offers no option for this and its parser is not exported, so the parser's
 * headers-complete step is wrapped, once, from the first HTTP/1.1 connection's parser: a
 * 100 is then skipped the way undici skips every other 1xx (no body, headers dropped,
 * waiting for the final response), and everything else goes to undici's own code. The
 * gateway never sends `Expect` upstream, so a 100 is always unsolicited. Tested end to end
 * (test/e2e/upstream-responses.test.ts) against undici 7.30.2: if a later undici changes
 * its parser's shape, nothing is wrapped and that test fails.
 */
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'

const require = createRequire(import.meta.url)
const { kParser, kRunning } = require('undici/lib/core/symbols.js') as { kParser: symbol, kRunning: symbol }

type HeadersComplete = (this: ParserState, statusCode: number, upgrade: boolean, shouldKeepAlive: boolean) => number

interface ParserState {
  client: Record<symbol, unknown>
  socket: Socket
  statusCode: number
  headers: unknown[]
  headersSize: number
  timeout: { refresh?: () => void } | null
  onHeadersComplete: HeadersComplete
}

/** llhttp's "no body follows" answer from on_headers_complete. */
const SKIP_BODY = 1

let wrapped = false

/** Called with each new upstream socket once undici has attached its parser to it. */
export function skipUnsolicitedContinue (socket: Socket): void {
  if (wrapped) return
  const parser = (socket as unknown as Record<symbol, ParserState | null | undefined>)[kParser]
  // An h2 session has no HTTP/1.1 parser: wait for an HTTP/1.1 connection.
  if (parser == null || typeof parser.onHeadersComplete !== 'function') return
  const prototype = Object.getPrototypeOf(parser) as ParserState
  const original = prototype.onHeadersComplete
  prototype.onHeadersComplete = function (statusCode, upgrade, shouldKeepAlive) {
    if (statusCode === 100 && !upgrade && !this.socket.destroyed && (this.client[kRunning] as number) > 0) {
      this.statusCode = statusCode
      this.headers = []
      this.headersSize = 0
      this.timeout?.refresh?.()
      return SKIP_BODY
    }
    return original.call(this, statusCode, upgrade, shouldKeepAlive)
  }
  wrapped = true
}
