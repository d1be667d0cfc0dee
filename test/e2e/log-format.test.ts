import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ChildLines, endChild } from '../helpers/child.js'
import { CLI, listeningPort, startCli } from '../helpers/cli.js'
import { client } from '../helpers/client.js'
import { tempFolder } from '../helpers/files.js'
import { startOrigin } from '../helpers/origin.js'

function isJson (line: string): boolean {
  try {
    return typeof JSON.parse(line) === 'object'
  } catch {
    return false
  }
}

test('tollgate start writes JSON lines when the config names no logFormat', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const dir = tempFolder(t)
  writeFileSync(join(dir, 'g.yaml'), `server: { listen: [{ host: 127.0.0.1, port: 0 }] }
upstreams: { app: { targets: ["${origin.address}"] } }
routes: [{ name: r, upstream: app }]
`)
  const cli = startCli(t, ['start', '-c', join(dir, 'g.yaml')])
  const port = await listeningPort(cli)
  assert.equal((await client(t)(`http://127.0.0.1:${port}/x?token=abc`)).status, 200)
  const line = await cli.waitForLog(l => l.msg === 'request')
  assert.equal(line.route, 'r')
  assert.equal(line.url, '/x?token=***')
})

test('logFormat: pretty prints readable lines, the access log among them', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const dir = tempFolder(t)
  writeFileSync(join(dir, 'g.yaml'), `server: { listen: [{ host: 127.0.0.1, port: 0 }], logFormat: pretty }
upstreams: { app: { targets: ["${origin.address}"] } }
routes: [{ name: r, upstream: app }]
`)
  const child = spawn(process.execPath, [CLI, 'start', '-c', join(dir, 'g.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out = new ChildLines(child, 'tollgate start (pretty)')
  t.after(async () => { await endChild(out, () => child.kill('SIGTERM')) })
  const listening = await out.waitFor(line => line.includes('listening'), 'the listening line')
  assert.ok(!isJson(listening), listening)
  assert.match(listening, /INFO.*listening/)
  const port = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(out.lines.join('\n'))?.[1])
  assert.equal((await client(t)(`http://127.0.0.1:${port}/hello?token=abc`)).status, 200)
  const request = await out.waitFor(line => /INFO.*request/.test(line), 'the access-log line')
  assert.ok(!isJson(request))
  // pino-pretty puts the line's fields on the lines after it.
  await out.waitFor(line => line.includes('/hello?token=***'), 'the redacted url among the access-log fields')
  assert.ok(out.lines.every(line => !isJson(line)), 'no JSON line')
})
