import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { checkRequestHead, isHostPort, upgradeRequested, HOST_INVALID, HOST_MISSING, HOST_REPEATED, TOO_MANY_HEADERS } from '../../../src/server/request-head.js'

function head (rawHeaders: string[], version = '1.1'): IncomingMessage {
  const headers: Record<string, string> = {}
  for (let i = 0; i < rawHeaders.length; i += 2) headers[(rawHeaders[i] as string).toLowerCase()] ??= rawHeaders[i + 1] as string
  const [major, minor] = version.split('.').map(Number)
  return { rawHeaders, headers, httpVersionMajor: major, httpVersionMinor: minor } as unknown as IncomingMessage
}

test('more header lines than maxHeaders get 431', () => {
  const lines = ['Host', 'x']
  for (let i = 0; i < 99; i++) lines.push(`x-${i}`, 'v')
  assert.equal(checkRequestHead(head(lines), 100), null)
  lines.push('x-one-more', 'v')
  assert.equal(checkRequestHead(head(lines), 100), TOO_MANY_HEADERS)
})

test('Host: one is required on HTTP/1.1, two are refused, a malformed one is refused', () => {
  assert.equal(checkRequestHead(head([]), 100), HOST_MISSING)
  assert.equal(checkRequestHead(head([], '1.0'), 100), null)
  assert.equal(checkRequestHead(head(['Host', 'a', 'HOST', 'b']), 100), HOST_REPEATED)
  assert.equal(checkRequestHead(head(['Host', 'a b']), 100), HOST_INVALID)
  assert.equal(checkRequestHead(head(['host', 'api.example.com:8443']), 100), null)
})

test('host[:port] syntax', () => {
  for (const good of ['example.com', 'example.com.', 'EXAMPLE.com:80', '127.0.0.1', '127.0.0.1:8080', '[::1]', '[::1]:8080', 'xn--bcher-kva.example', 'a_b.internal', 'host:']) {
    assert.equal(isHostPort(good), true, good)
  }
  for (const bad of ['', ' ', 'a b', 'a/b', 'user@host', 'host:port', 'host:99999', 'host:123456', '[::1', '[zz::1]', '[::1]x', 'a?b', 'a#b', ':80', '\t']) {
    assert.equal(isHostPort(bad), false, JSON.stringify(bad))
  }
})

test('websocket goes to its route, h2c is optional, any other upgrade is refused; Upgrade without Connection: upgrade is none', () => {
  const req = (upgrade: string, connection?: string): IncomingMessage =>
    ({ headers: { upgrade, ...(connection === undefined ? {} : { connection }) } }) as unknown as IncomingMessage
  assert.equal(upgradeRequested(req('websocket', 'Upgrade')), 'websocket')
  assert.equal(upgradeRequested(req('WebSocket', 'keep-alive, upgrade')), 'websocket')
  assert.equal(upgradeRequested(req('websocket, h2c', 'Upgrade')), 'refused')
  assert.equal(upgradeRequested(req('tls/1.2', 'Upgrade')), 'refused')
  assert.equal(upgradeRequested(req('h2c', 'Upgrade, HTTP2-Settings')), 'optional')
  assert.equal(upgradeRequested(req('foo', 'close')), 'none')
  assert.equal(upgradeRequested(req('foo')), 'none')
})
