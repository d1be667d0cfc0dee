/**
 * The protocols with `--workers 2`: an HTTP/2 TLS listener whose sessions every worker
 * serves (HTTP/1.1 on the same port too), and WebSockets held open by both workers across
 * a SIGHUP and closed with 1001 by SIGTERM.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type IncomingHttpHeaders } from 'node:http2'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { makePki } from '../helpers/certs.js'
import { tempFolder } from '../helpers/files.js'
import { within } from '../helpers/deadline.js'
import { configObject, started } from '../helpers/workers.js'
import { closeOf, nextMessage, startWebSocketOrigin, WebSocket } from '../helpers/websocket.js'

/** One GET on an h2 session of its own (a new connection, so the next worker's). */
async function h2Get (port: number, ca: Buffer): Promise<{ headers: IncomingHttpHeaders, body: string }> {
  const session = connect(`https://localhost:${port}`, { ca })
  try {
    return await within(new Promise((resolve, reject) => {
      session.once('error', reject)
      const stream = session.request({ ':path': '/' })
      let headers: IncomingHttpHeaders = {}
      const chunks: Buffer[] = []
      stream.on('response', h => { headers = h })
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => resolve({ headers, body: Buffer.concat(chunks).toString() }))
      stream.on('error', reject)
    }), 5000, 'the h2 request got no answer')
  } finally {
    session.close()
  }
}

test('--workers 2 with an http2 TLS listener: both workers serve h2 sessions, and HTTP/1.1 on the same port', async (t) => {
  const pki = makePki(t)
  const origin = await startOrigin(t, 'blue')
  const dir = tempFolder(t, 'tollgate-workers-h2-')
  const file = join(dir, 'g.yaml')
  const config = configObject(origin.address, 'one')
  config.server = { ...config.server as object, listen: [{ host: '127.0.0.1', port: 0, http2: true, tls: { certs: [{ cert: pki.files.serverCert, key: pki.files.serverKey }] } }] }
  writeFileSync(file, JSON.stringify(config))
  const { cli, url, pids } = await started(t, file)
  const port = Number(new URL(url).port)
  const served = new Set<number>()
  for (let i = 0; i < 20 && served.size < pids.length; i++) {
    const answer = await h2Get(port, pki.ca)
    assert.deepEqual({ status: answer.headers[':status'], body: answer.body, tag: answer.headers['x-config'] }, { status: 200, body: 'Response from BLUE', tag: 'one' })
    served.add(await cli.servedBy(String(answer.headers['x-request-id'])))
  }
  assert.deepEqual([...served].sort(), [...pids].sort(), 'every worker served h2 sessions')
  const agent = new Agent({ connect: { ca: pki.ca } })
  t.after(() => agent.close())
  const h1 = await request(`https://localhost:${port}/`, { dispatcher: agent })
  assert.equal(h1.statusCode, 200)
  assert.equal(await h1.body.text(), 'Response from BLUE')
})

test('--workers 2 with a WebSocket route: sockets open on each worker pass messages, outlive a SIGHUP, and get 1001 on SIGTERM', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const dir = tempFolder(t, 'tollgate-workers-ws-')
  const file = join(dir, 'g.yaml')
  const config = (tag: string): string => {
    const object = configObject(origin.address, tag)
    object.server = { ...object.server as object, gracefulShutdown: '800ms' }
    object.routes = [{ name: 'chat', upstream: 'app', websocket: true }]
    return JSON.stringify(object)
  }
  writeFileSync(file, config('one'))
  const { cli, url, pids } = await started(t, file)
  const wsUrl = url.replace('http://', 'ws://')
  // New connections go to the workers in turn: open sockets until each worker holds one.
  const sockets = new Map<number, WebSocket>()
  for (let i = 0; i < 20 && sockets.size < pids.length; i++) {
    const socket = new WebSocket(`${wsUrl}/`)
    t.after(() => socket.terminate())
    let requestId = ''
    socket.once('upgrade', res => { requestId = String(res.headers['x-request-id']) })
    await within(new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    }), 5000, 'the WebSocket did not open')
    const pid = await cli.servedBy(requestId)
    if (sockets.has(pid)) socket.close()
    else sockets.set(pid, socket)
  }
  assert.deepEqual([...sockets.keys()].sort(), [...pids].sort(), 'every worker holds an open WebSocket')
  for (const [pid, socket] of sockets) {
    socket.send(`to ${pid}`)
    assert.equal((await nextMessage(socket)).data.toString(), `to ${pid}`)
  }
  writeFileSync(file, config('two'))
  cli.child.kill('SIGHUP')
  for (const pid of pids) await cli.waitForLog(l => l.msg === 'config reloaded' && l.pid === pid)
  for (const [pid, socket] of sockets) {
    socket.send(`after SIGHUP ${pid}`)
    assert.equal((await nextMessage(socket)).data.toString(), `after SIGHUP ${pid}`, 'a reload closed a WebSocket')
  }
  const closes = [...sockets.values()].map(async socket => await closeOf(socket, 10_000))
  cli.child.kill('SIGTERM')
  for (const close of await Promise.all(closes)) assert.deepEqual(close, { code: 1001, reason: 'server shutting down' })
  assert.equal((await within(cli.exited, 10_000, 'the gateway did not exit')).code, 0)
})
