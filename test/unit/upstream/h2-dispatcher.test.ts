import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import type { Dispatcher } from 'undici'
import { H2Dispatcher } from '../../../src/upstream/h2-dispatcher.js'
import { eventually, within } from '../../helpers/deadline.js'

function client (origin = 'http://127.0.0.1:8080'): H2Dispatcher {
  return new H2Dispatcher(origin, {
    address: { kind: 'tcp', host: '127.0.0.1', port: 8080, id: '127.0.0.1:8080' },
    tls: null,
    connectMs: 1000,
    keepAliveMs: 1000,
    maxSessions: null,
    onConnection: () => undefined,
    onStream: () => undefined
  })
}

test('HTTP/2 request heads carry no connection-specific header (RFC 9113 §8.2.2)', () => {
  const head = client().requestHeaders({
    method: 'POST',
    path: '/x',
    headers: {
      connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive',
      'transfer-encoding': 'chunked', upgrade: 'websocket', 'http2-settings': 'AAA', 'x-kept': 'yes'
    }
  })
  assert.deepEqual(Object.keys(head).sort(), [':authority', ':method', ':path', ':scheme', 'x-kept'])
})

test('Host becomes :authority; without Host, :authority is the target', () => {
  assert.equal(client().requestHeaders({ method: 'GET', path: '/', headers: { host: 'api.test' } })[':authority'], 'api.test')
  assert.equal(client().requestHeaders({ method: 'GET', path: '/', headers: {} })[':authority'], '127.0.0.1:8080')
})

test('TE is sent only as "trailers", and only when it asks for trailers', () => {
  assert.equal(client().requestHeaders({ method: 'GET', path: '/', headers: { te: 'trailers, deflate;q=0.5' } }).te, 'trailers')
  assert.equal(client().requestHeaders({ method: 'GET', path: '/', headers: { te: 'gzip' } }).te, undefined)
})

test('the scheme follows the origin, and a symbol-keyed header is never sent', () => {
  const headers: Record<PropertyKey, unknown> = { 'x-a': ['1', '2'] }
  headers[Symbol('attempt')] = { secret: true }
  const head = client('https://127.0.0.1:8443').requestHeaders({ method: 'GET', path: '/', headers: headers as Record<string, string> })
  assert.equal(head[':scheme'], 'https')
  assert.deepEqual(head['x-a'], ['1', '2'])
  assert.equal(Object.getOwnPropertySymbols(head).length, 0)
})

test('a handler that throws while the response arrives fails the exchange with its error, and the stream is cancelled', async (t) => {
  const server = createServer()
  const resets: number[] = []
  server.on('stream', (stream) => {
    stream.on('error', () => undefined)
    stream.once('close', () => resets.push(stream.rstCode ?? -1))
    stream.respond({ ':status': 200 })
    stream.write('part')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const h2 = new H2Dispatcher(`http://127.0.0.1:${port}`, {
    address: { kind: 'tcp', host: '127.0.0.1', port, id: `127.0.0.1:${port}` },
    tls: null, connectMs: 1000, keepAliveMs: 1000, maxSessions: null, onConnection: () => undefined, onStream: () => undefined
  })
  t.after(async () => {
    await h2.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  const failed = new Promise<Error>(resolve => {
    h2.dispatch({ origin: `http://127.0.0.1:${port}`, method: 'GET', path: '/' }, {
      onConnect: () => undefined,
      onHeaders: () => { throw new Error('handler broke') },
      onError: resolve
    } as unknown as Dispatcher.DispatchHandler)
  })
  const err = await within(failed, 2000, 'onError was not called')
  assert.equal(err.message, 'handler broke')
  await eventually(() => resets.length === 1, 2000, 'the stream was not closed')
  assert.equal(resets[0], 8, 'RST_STREAM CANCEL')
})
