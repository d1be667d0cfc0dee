/**
 * Connections that never say anything, and more connections than allowed: a client must
 * not be able to hold the gateway's sockets (and file descriptors) open by connecting and
 * staying silent.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { startOrigin } from '../helpers/origin.js'
import { startGateway, type RunningGateway } from '../helpers/gateway.js'
import { makePki } from '../helpers/certs.js'
import { client, rawExchange } from '../helpers/client.js'
import { closed, within } from '../helpers/deadline.js'

/**
 * Opens `count` connections that send nothing and never close their side (a client that
 * only reads, as a hostile one may), in waves the listener's accept queue can take (a
 * connection the kernel drops from a full queue never reaches the gateway); resolves once
 * the gateway has accepted them all. `ended` resolves with each one's time from connect
 * until the gateway closed it (its FIN), in ms.
 */
async function silentSockets (t: import('node:test').TestContext, gw: RunningGateway, count: number): Promise<{ sockets: Socket[], ended: Promise<number[]> }> {
  const before = gw.gateway.acceptedConnections()
  const sockets: Socket[] = []
  const ended: Promise<number>[] = []
  t.after(() => { for (const socket of sockets) socket.destroy() })
  for (let wave = 0; wave < count; wave += 200) {
    const batch: Socket[] = []
    for (let i = wave; i < Math.min(count, wave + 200); i++) {
      const socket = connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true })
      socket.on('error', () => undefined)
      socket.resume()
      const connected = new Promise<number>(resolve => socket.once('connect', () => resolve(performance.now())))
      ended.push(new Promise<void>(resolve => { socket.once('end', resolve); socket.once('close', resolve) })
        .then(async () => performance.now() - await connected))
      batch.push(socket)
    }
    sockets.push(...batch)
    await Promise.all(batch.map(async socket => { if (socket.connecting) await once(socket, 'connect') }))
    // Let the gateway accept this wave before the next one (its event loop is this one).
    for (let tries = 0; tries < 500 && gw.gateway.acceptedConnections() < before + sockets.length; tries++) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }
  return { sockets, ended: Promise.all(ended) }
}

/** Resolves once the gateway holds at most `count` client connections; fails after `ms`. */
async function gatewayHolds (gw: RunningGateway, count: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms
  let open = await gw.gateway.openConnections()
  while (open > count) {
    if (performance.now() > deadline) throw new Error(`the gateway still holds ${open} connections after ${ms} ms`)
    // The gateway offers no event for a closed connection: its count is read every 50 ms.
    await new Promise(resolve => setTimeout(resolve, 50))
    open = await gw.gateway.openConnections()
  }
}

test('2 000 silent connections are closed after limits.headersTimeout, and other clients are served meanwhile', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { headersTimeout: '1s', requestTimeout: '30s' } },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const silent = await silentSockets(t, gw, 2000)
  const served = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.match(served.data, /^HTTP\/1\.1 200 /, 'a client was not served while 2 000 silent connections were open')
  // What matters is what the gateway holds: its sockets (and file descriptors) are freed.
  await gatewayHolds(gw, 0, 15_000)
  const lifetimes = await silent.ended
  const shortest = Math.min(...lifetimes)
  assert.ok(shortest >= 900, `a silent connection was closed after ${shortest.toFixed(0)} ms, before the timeout`)
  assert.match((await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).data, /^HTTP\/1\.1 200 /)
})

test('a connection that sent part of a head gets 408; one that completes its head in time is served', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { headersTimeout: '500ms', requestTimeout: '5s' } },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const partial = connect(gw.port, '127.0.0.1')
  t.after(() => partial.destroy())
  await once(partial, 'connect')
  let answer = ''
  partial.on('data', (chunk: Buffer) => { answer += chunk.toString() })
  partial.write('GET / HTTP/1.1\r\nHost: x\r\n')
  await within(closed(partial), 5000, () => 'a partial head was not cut')
  assert.match(answer, /^HTTP\/1\.1 408 /)
  const slowButComplete = connect(gw.port, '127.0.0.1')
  t.after(() => slowButComplete.destroy())
  await once(slowButComplete, 'connect')
  let served = ''
  slowButComplete.on('data', (chunk: Buffer) => { served += chunk.toString() })
  slowButComplete.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  await within(closed(slowButComplete), 5000, () => 'a complete request was not answered')
  assert.match(served, /^HTTP\/1\.1 200 /)
})

test('a TLS connection that never completes its handshake is closed after limits.headersTimeout', async (t) => {
  const pki = makePki(t, ['localhost'])
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: {
      limits: { headersTimeout: '500ms', requestTimeout: '5s' },
      listen: [{ host: '127.0.0.1', port: 0, tls: { certs: [{ cert: pki.files.serverCert, key: pki.files.serverKey }] } }]
    },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const silent = await silentSockets(t, gw, 20)
  await gatewayHolds(gw, 0, 5000)
  const lifetimes = await silent.ended
  assert.ok(Math.min(...lifetimes) >= 400, `closed after ${Math.min(...lifetimes).toFixed(0)} ms, before the timeout`)
})

test('limits.maxConnections refuses connections beyond it, and accepts again once some close', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { maxConnections: 5 } },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const held = await silentSockets(t, gw, 5)
  // The server closes a connection over the limit as soon as it accepts it.
  const extra = connect(gw.port, '127.0.0.1')
  extra.on('error', () => undefined)
  t.after(() => extra.destroy())
  let served = ''
  extra.on('data', (chunk: Buffer) => { served += chunk.toString() })
  extra.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  await within(closed(extra), 5000, () => 'a connection over the limit was kept open')
  assert.equal(served, '', 'a connection over the limit was served')
  assert.equal(up.received.length, 0)
  for (const socket of held.sockets) socket.destroy()
  await gatewayHolds(gw, 0, 5000)
  assert.equal((await client(t)(`${gw.url}/`)).status, 200)
})
