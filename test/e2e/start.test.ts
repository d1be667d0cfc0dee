import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { reservedPorts } from '../helpers/ports.js'
import { ChildLines, endChild } from '../helpers/child.js'
import { within } from '../helpers/deadline.js'

test('npm start serves the example upstreams through the example config and the TypeScript route', async (t) => {
  const demo = fileURLToPath(new URL('../../dist/examples/demo.js', import.meta.url))
  const [bluePort, greenPort] = await reservedPorts(t, 2)
  const env = { ...process.env, PORT: '0', BLUE_PORT: String(bluePort), GREEN_PORT: String(greenPort) }
  const child = spawn(process.execPath, [demo], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = new ChildLines(child, 'npm start')
  t.after(async () => { await endChild(out, () => child.kill('SIGKILL')) })
  // The example config logs readable lines (logFormat: pretty): the address follows the message.
  const listening = await out.waitFor(l => /INFO.*: listening$/.test(l), 'its listening line')
  assert.ok(!listening.startsWith('{'), `not a JSON line: ${listening}`)
  const base = /"(http:\/\/[^"]+)"/.exec(await out.waitFor(l => l.includes('address: "http'), 'the listening address'))?.[1] as string
  const text = async (path: string): Promise<string> => await (await request(`${base}${path}`)).body.text()
  assert.match(await text('/blue/'), /^Response from BLUE/)
  assert.match(await text('/green/'), /^Response from GREEN/)
  assert.deepEqual(JSON.parse(await text('/hello/')).hello, 'from a TypeScript route')
  assert.match(await text('/nowhere'), /"code":"ROUTE_NOT_FOUND"/)
  await out.waitFor(l => /INFO.*: request$/.test(l), 'a readable access-log line')
  child.kill('SIGTERM')
  const exit = await within(out.exited, 10_000, 'npm start did not exit after SIGTERM')
  assert.equal(exit.code, 0, out.stderr)
})
