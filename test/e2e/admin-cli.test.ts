import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { listeningPort, startCli } from '../helpers/cli.js'
import { tempFolder } from '../helpers/files.js'

function yaml (target: string): string {
  return `
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  gracefulShutdown: 2s
admin:
  listen: { host: 127.0.0.1, port: 0 }
  token: \${TOLLGATE_ADMIN_TOKEN}
upstreams:
  app: { targets: [${target}] }
routes:
  - { name: r, upstream: app }
`
}

test('tollgate start opens the admin listener from the file; SIGHUP keeps it and takes a new token; SIGTERM closes it', async (t) => {
  const dir = tempFolder(t, 'tollgate-admin-cli-')
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const file = join(dir, 'g.yaml')
  writeFileSync(file, yaml(blue.address))
  writeFileSync(join(dir, '.env'), 'TOLLGATE_ADMIN_TOKEN=first-token-123\n')
  const cli = startCli(t, ['start', '-c', file])
  const port = await listeningPort(cli)
  const opened = await cli.waitForLog(l => l.msg === 'admin API listening')
  const adminPort = (opened.admin as { port: number }).port
  const agent = new Agent()
  t.after(() => agent.close())
  const admin = async (path: string, token: string, init: { method?: 'PUT', body?: string } = {}): Promise<{ status: number, text: string }> => {
    const res = await request(`http://127.0.0.1:${adminPort}${path}`, {
      dispatcher: agent,
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: init.body })
    })
    return { status: res.statusCode, text: await res.body.text() }
  }
  const proxied = async (): Promise<string> => await (await request(`http://127.0.0.1:${port}/`, { dispatcher: agent })).body.text()

  assert.equal((await admin('/health', 'first-token-123')).status, 200)
  const shown = await admin('/config', 'first-token-123')
  assert.ok(!shown.text.includes('first-token-123'), 'GET /config shows the token')
  assert.equal(JSON.parse(shown.text).admin.token, '***')

  writeFileSync(join(dir, '.env'), 'TOLLGATE_ADMIN_TOKEN=second-token-456\n')
  cli.child.kill('SIGHUP')
  await cli.waitForLog(l => l.msg === 'config reloaded')
  assert.equal((await admin('/health', 'first-token-123')).status, 401)
  assert.equal((await admin('/health', 'second-token-456')).status, 200, 'same port, new token')

  const whole = JSON.stringify({
    server: { listen: [{ host: '127.0.0.1', port }], gracefulShutdown: '2s' },
    admin: { listen: { host: '127.0.0.1', port: adminPort }, token: 'second-token-456' },
    upstreams: { app: { targets: [green.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  assert.equal(await proxied(), 'Response from BLUE')
  const put = await admin('/config', 'second-token-456', { method: 'PUT', body: whole })
  assert.equal(put.status, 200, put.text)
  assert.equal(await proxied(), 'Response from GREEN')

  cli.child.kill('SIGTERM')
  assert.equal((await cli.exited).code, 0)
  const fresh = new Agent()
  t.after(() => fresh.close())
  await assert.rejects(request(`http://127.0.0.1:${adminPort}/health`, { dispatcher: fresh }), /ECONNREFUSED/)
})
