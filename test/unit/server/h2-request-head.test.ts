import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { checkH2RequestHead, AUTHORITY_CONFLICT, AUTHORITY_MISSING, CONNECT_REFUSED, HOST_INVALID, HOST_REPEATED, TOO_MANY_HEADERS } from '../../../src/server/request-head.js'

/** An HTTP/2 request head as node:http2's compat request shows it (pseudo-headers included). */
function h2Head (fields: string[], method = 'GET'): IncomingMessage {
  const rawHeaders = [':method', method, ':scheme', 'https', ':path', '/', ...fields]
  const headers: Record<string, string> = {}
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i] as string] ??= rawHeaders[i + 1] as string
  return { rawHeaders, headers, method, httpVersionMajor: 2, httpVersionMinor: 0 } as unknown as IncomingMessage
}

test('h2: :authority becomes headers.host', () => {
  const req = h2Head([':authority', 'shop.test:8443'])
  assert.equal(checkH2RequestHead(req, 100), null)
  assert.equal(req.headers.host, 'shop.test:8443')
})

test('h2: a Host header alone is accepted as the target', () => {
  const req = h2Head(['host', 'shop.test'])
  assert.equal(checkH2RequestHead(req, 100), null)
  assert.equal(req.headers.host, 'shop.test')
})

test('h2: neither :authority nor Host is refused', () => {
  assert.equal(checkH2RequestHead(h2Head([]), 100), AUTHORITY_MISSING)
})

test('h2: Host naming another host than :authority is refused; the same host in other case passes', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'host', 'b.test']), 100), AUTHORITY_CONFLICT)
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'host', 'A.TEST']), 100), null)
})

test('h2: two Host headers are refused', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'host', 'a.test', 'host', 'b.test']), 100), HOST_REPEATED)
})

test('h2: an :authority that is not host[:port] is refused', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test:99999']), 100), HOST_INVALID)
  assert.equal(checkH2RequestHead(h2Head([':authority', 'user@a.test']), 100), HOST_INVALID)
})

test('h2: pseudo-headers do not count against maxHeaders; the fields do', () => {
  const fields = [':authority', 'a.test']
  for (let i = 0; i < 9; i++) fields.push(`x-${i}`, 'v')
  assert.equal(checkH2RequestHead(h2Head(fields), 9), null)
  fields.push('x-one-more', 'v')
  assert.equal(checkH2RequestHead(h2Head(fields), 9), TOO_MANY_HEADERS)
})

test('h2: CONNECT is refused', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test:443'], 'CONNECT'), 100), CONNECT_REFUSED)
})
