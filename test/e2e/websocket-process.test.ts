/**
 * WebSocket connections and the signals of a real `tollgate start` process: SIGHUP leaves
 * them open, SIGTERM closes them with 1001 once `gracefulShutdown` is over.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCli, listeningPort } from '../helpers/cli.js'
import { tempFolder } from '../helpers/files.js'
import { within } from '../helpers/deadline.js'
import { closeOf, connectWebSocket, nextMessage, startWebSocketOrigin } from '../helpers/websocket.js'

const config = (upstream: string, tag: string): string => `
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  accessLog: false
  gracefulShutdown: 800ms
upstreams:
  app: { targets: ["${upstream}"] }
routes:
  - name: chat
    upstream: app
    websocket: true
    requestHeaders: { set: { x-config: ${tag} } }
`

function folder (t: TestContext): string {
  return tempFolder(t, 'tollgate-ws-')
}

test('SIGTERM closes an open WebSocket with 1001 after gracefulShutdown, then the process exits 0', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), config(origin.address, 'one'))
  const cli = startCli(t, ['start', '-c', join(dir, 'g.yaml')])
  const port = await listeningPort(cli)
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${port}/`)
  const closing = closeOf(socket, 10_000)
  const sent = performance.now()
  cli.child.kill('SIGTERM')
  assert.deepEqual(await closing, { code: 1001, reason: 'server shutting down' })
  const waited = performance.now() - sent
  assert.ok(waited >= 750, `closed ${Math.round(waited)} ms after SIGTERM, before gracefulShutdown (800 ms)`)
  const exit = await within(cli.exited, 10_000, 'the gateway did not exit')
  assert.equal(exit.code, 0)
})

test('SIGHUP reloads without touching an open WebSocket', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), config(origin.address, 'one'))
  const cli = startCli(t, ['start', '-c', join(dir, 'g.yaml')])
  const port = await listeningPort(cli)
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${port}/`)
  writeFileSync(join(dir, 'g.yaml'), config(origin.address, 'two'))
  cli.child.kill('SIGHUP')
  await cli.waitForLog(line => line.msg === 'config reloaded', 10_000)
  socket.send('after SIGHUP')
  assert.equal((await nextMessage(socket)).data.toString(), 'after SIGHUP')
  await connectWebSocket(t, `ws://127.0.0.1:${port}/`)
  assert.deepEqual(origin.upgrades.map(u => u.headers['x-config']), ['one', 'two'])
})
