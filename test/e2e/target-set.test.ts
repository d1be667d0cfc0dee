/**
 * Replacing a live upstream's target set: traffic moves to the new set at once, a target
 * that stays keeps its pooled connection, and a removed target's connection closes once
 * its request in flight has finished.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { closed, within } from '../helpers/deadline.js'
import type { TargetSpec } from '../../src/upstream/target.js'

function connections (origin: Origin): Socket[] {
  const sockets: Socket[] = []
  origin.server.on('connection', (socket: Socket) => sockets.push(socket))
  return sockets
}

function spec (origin: Origin): TargetSpec {
  return { address: { kind: 'tcp', host: '127.0.0.1', port: origin.port, id: origin.address }, weight: 1, backup: false }
}

test('traffic moves to the new set while a target that stays keeps its connection', async (t) => {
  let releaseSlow: () => void = () => undefined
  const slowGate = new Promise<void>(resolve => { releaseSlow = resolve })
  const blue = await startOrigin(t, 'blue', {
    handler: (req, res) => {
      if (req.url === '/slow') { slowGate.then(() => res.end('slow BLUE'), () => undefined); return }
      res.end('Response from BLUE')
    }
  })
  const green = await startOrigin(t, 'green')
  const red = await startOrigin(t, 'red')
  const blueSockets = connections(blue)
  const greenSockets = connections(green)
  const gw = await startGateway(t, { upstreams: { u: { targets: [blue.address, green.address] } }, routes: [{ name: 'r', upstream: 'u' }] })
  const get = client(t)
  const before: string[] = []
  for (let i = 0; i < 4; i++) before.push((await get(`${gw.url}/`)).text)
  assert.deepEqual(before.sort(), ['Response from BLUE', 'Response from BLUE', 'Response from GREEN', 'Response from GREEN'])
  assert.equal(greenSockets.length, 1)

  // Blue is busy with a slow request when it is removed: that request must still finish.
  const slow = get(`${gw.url}/slow`)
  const slowAt = blue.received.length
  await within((async () => { while (blue.received.length === slowAt) await new Promise(resolve => setImmediate(resolve)) })(), 2000, 'the slow request never reached Blue')
  const upstream = gw.gateway.liveUpstreams.get('u')
  assert.ok(upstream !== undefined)
  const change = upstream.replaceTargets([spec(green), spec(red)], 'static')
  assert.equal(change.applied, true)

  const after: string[] = []
  for (let i = 0; i < 6; i++) after.push((await get(`${gw.url}/`)).text)
  assert.deepEqual(after.filter(text => text.includes('BLUE')), [])
  assert.equal(after.filter(text => text === 'Response from GREEN').length, 3)
  assert.equal(after.filter(text => text === 'Response from RED').length, 3)
  assert.equal(greenSockets.length, 1, 'Green, which stayed, was reconnected')

  const blueOpen = blueSockets.filter(socket => !socket.destroyed)
  assert.ok(blueOpen.length > 0, 'Blue\'s connection closed before its request finished')
  releaseSlow()
  assert.equal((await within(slow, 2000, 'the slow request on the removed target never finished')).text, 'slow BLUE')
  await within(Promise.all(blueOpen.map(closed)), 2000, 'the removed target\'s connections stay open')
})
