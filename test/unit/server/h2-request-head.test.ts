import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { checkH2RequestHead, AUTHORITY_CONFLICT, AUTHORITY_MISSING, CONNECT_REFUSED, HEADERS_TOO_LARGE, HOST_INVALID, HOST_REPEATED, TOO_MANY_HEADERS } from '../../../src/server/request-head.js'

/** An HTTP/2 request head as node:http2's compat request shows it (pseudo-headers included). */
function h2Head (fields: string[], method = 'GET'): IncomingMessage {
  const rawHeaders = [':method', method, ':scheme', 'https', ':path', '/', ...fields]
  const headers: Record<string, string> = {}
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i] as string] ??= rawHeaders[i + 1] as string
  return { rawHeaders, headers, method, httpVersionMajor: 2, httpVersionMinor: 0 } as unknown as IncomingMessage
}

test('h2: :authority becomes headers.host', () => {
  const req = h2Head([':authority', 'shop.test:8443'])
  assert.equal(checkH2RequestHead(req, 100, 16384), null)
  assert.equal(req.headers.host, 'shop.test:8443')
})

test('h2: a Host header alone is accepted as the target', () => {
  const req = h2Head(['host', 'shop.test'])
  assert.equal(checkH2RequestHead(req, 100, 16384), null)
  assert.equal(req.headers.host, 'shop.test')
})

test('h2: neither :authority nor Host is refused', () => {
  assert.equal(checkH2RequestHead(h2Head([]), 100, 16384), AUTHORITY_MISSING)
})

test('h2: Host naming another host than :authority is refused; the same host in other case passes', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'host', 'b.test']), 100, 16384), AUTHORITY_CONFLICT)
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'host', 'A.TEST']), 100, 16384), null)
})

test('h2: two Host headers are refused', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'host', 'a.test', 'host', 'b.test']), 100, 16384), HOST_REPEATED)
})

test('h2: an :authority that is not host[:port] is refused', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test:99999']), 100, 16384), HOST_INVALID)
  assert.equal(checkH2RequestHead(h2Head([':authority', 'user@a.test']), 100, 16384), HOST_INVALID)
})

test('h2: pseudo-headers do not count against maxHeaders; the fields do', () => {
  const fields = [':authority', 'a.test']
  for (let i = 0; i < 9; i++) fields.push(`x-${i}`, 'v')
  assert.equal(checkH2RequestHead(h2Head(fields), 9, 16384), null)
  fields.push('x-one-more', 'v')
  assert.equal(checkH2RequestHead(h2Head(fields), 9, 16384), TOO_MANY_HEADERS)
})

test('h2: CONNECT is refused', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test:443'], 'CONNECT'), 100, 16384), CONNECT_REFUSED)
})

test('h2: names and values past maxHeaderSize get 431', () => {
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'x-big', 'a'.repeat(900)]), 100, 1024), null)
  assert.equal(checkH2RequestHead(h2Head([':authority', 'a.test', 'x-big', 'a'.repeat(1100)]), 100, 1024), HEADERS_TOO_LARGE)
})
