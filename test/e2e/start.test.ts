import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { request } from 'undici'
import { closedPort } from '../helpers/origin.js'

test('npm start serves the example upstreams through the example config and the TypeScript route', async (t) => {
  const demo = fileURLToPath(new URL('../../dist/examples/demo.js', import.meta.url))
  const env = { ...process.env, PORT: '0', BLUE_PORT: String(await closedPort()), GREEN_PORT: String(await closedPort()) }
  const child = spawn(process.execPath, [demo], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let log = ''
  while (!log.includes('"msg":"listening"')) {
    const [chunk] = await once(child.stdout, 'data') as [Buffer]
    log += chunk.toString()
  }
  const line = log.split('\n').find(l => l.includes('"msg":"listening"')) as string
  const base = (JSON.parse(line) as { address: string }).address
  const text = async (path: string): Promise<string> => await (await request(`${base}${path}`)).body.text()
  assert.match(await text('/blue/'), /^Response from BLUE/)
  assert.match(await text('/green/'), /^Response from GREEN/)
  assert.deepEqual(JSON.parse(await text('/hello/')).hello, 'from a TypeScript route')
  assert.match(await text('/nowhere'), /"code":"ROUTE_NOT_FOUND"/)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number]
  assert.equal(code, 0)
})
