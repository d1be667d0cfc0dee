import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { tempFolder } from '../helpers/files.js'
import { runToEnd } from '../helpers/child.js'
import { startOrigin } from '../helpers/origin.js'
import { refusedPort } from '../helpers/ports.js'
import { startAdminGateway } from '../helpers/admin.js'
import { eventually } from '../helpers/deadline.js'
import { createLogger } from '../../src/log/create-logger.js'
import { compileQueryRedactor, DEFAULT_REDACTED_QUERY } from '../../src/log/redact.js'

test('no log line, at any level, carries a credential from headers, secret query parameters, the admin token or the redis url', async (t) => {
  const secret = `S3cret${randomBytes(6).toString('hex')}`
  const origin = await startOrigin(t, 'blue', {
    handler: (_req, res) => {
      res.setHeader('set-cookie', `sid=${secret}; HttpOnly`)
      res.end('ok')
    }
  })
  const refused = await refusedPort(t)
  const lines: string[] = []
  const gw = await startAdminGateway(t, {
    server: { accessLog: true, redactQuery: ['token', 'API_KEY', 'sig'] },
    admin: { listen: { host: '127.0.0.1', port: 0 }, token: `admin-${secret}` },
    // Never reachable: its store logs its failures (warn) and connection errors (debug).
    redis: { url: `redis://:${secret}@127.0.0.1:${refused}` },
    upstreams: {
      app: { targets: [origin.address] },
      down: { targets: [`127.0.0.1:${refused}`], retries: { attempts: 0 } }
    },
    routes: [
      { name: 'ok', match: { path: '/ok' }, upstream: 'app' },
      { name: 'down', match: { path: '/down' }, upstream: 'down' },
      { name: 'guarded', match: { path: '/guarded' }, upstream: 'app', auth: { type: 'bearer', tokens: [`good-${secret}`] } },
      { name: 'counted', match: { path: '/counted' }, upstream: 'app', rateLimit: { limit: 100, window: '1s', store: 'redis', onStoreError: 'open' } }
    ]
  }, { logLevel: 'trace', logTo: (line) => { lines.push(line) } })

  const headers = {
    authorization: `Bearer ${secret}`,
    'proxy-authorization': `Basic ${secret}`,
    cookie: `sid=${secret}`,
    'x-api-key': secret
  }
  const query = `?page=1&token=${secret}&api_key=${secret}&Sig=${secret}`
  const statuses: Record<string, number> = {}
  for (const path of ['/ok', '/down', '/guarded', '/counted', '/nowhere']) {
    statuses[path] = (await gw.get(`${path}${query}`, { headers })).status
  }
  // A bad request and a body too: the paths that fail before routing.
  statuses.badPath = (await gw.get(`/ok/%${query}`, { headers })).status
  statuses.admin = (await gw.admin(`/config${query}`, { token: `wrong-${secret}` })).status
  statuses.adminOk = (await gw.admin('/config')).status
  assert.deepEqual(statuses, { '/ok': 200, '/down': 502, '/guarded': 401, '/counted': 200, '/nowhere': 404, badPath: statuses.badPath, admin: 401, adminOk: 200 })

  await eventually(() => lines.filter(line => line.includes('"msg":"request"')).length >= 6, 5000, 'expected an access-log line per proxied request')
  assert.ok(lines.some(line => line.includes('"level":40')), 'a warn line (the 502) was written')
  assert.ok(lines.some(line => line.includes('token=***') && line.includes('api_key=***') && line.includes('Sig=***') && line.includes('page=1')),
    'the access log keeps the query with the secret values replaced')
  const leaks = lines.filter(line => line.includes(secret))
  assert.deepEqual(leaks, [], 'lines carrying the secret')
})

test('the query redactor replaces only the named parameters, whatever their case or escaping', () => {
  const redact = compileQueryRedactor(['token', 'api_key'])
  assert.equal(redact('/a?x=1&TOKEN=abc&api%5Fkey=def&token&y=2#frag'), '/a?x=1&TOKEN=***&api%5Fkey=***&token&y=2#frag')
  assert.equal(redact('/a?tokens=abc'), '/a?tokens=abc')
  assert.equal(redact('/plain'), '/plain')
  assert.equal(compileQueryRedactor([])('/a?token=abc'), '/a?token=abc')
  assert.ok(DEFAULT_REDACTED_QUERY.includes('access_token'))
})

test('a line that carries headers shows their credentials as ***', () => {
  const lines: string[] = []
  const logger = createLogger({ level: 'info', format: 'json', destination: { write: (line: string) => { lines.push(line) } } })
  const headers = { authorization: 'Bearer a1', cookie: 'sid=a2', 'set-cookie': ['sid=a3'], 'proxy-authorization': 'Basic a4', 'x-api-key': 'a5', accept: 'text/plain' }
  logger.info({ headers, req: { headers }, res: { headers } }, 'with headers')
  const line = lines.join('')
  for (const value of ['a1', 'a2', 'a3', 'a4', 'a5']) assert.ok(!line.includes(value), `${value} in ${line}`)
  assert.ok(line.includes('text/plain'), 'other headers stay')
})

test('a Gateway embedded without a logger of its own logs credentials as *** too', async (t) => {
  const dir = tempFolder(t, 'tollgate-embedded-log-')
  const script = join(dir, 'run.mjs')
  const gatewayModule = pathToFileURL(fileURLToPath(new URL('../../dist/src/gateway.js', import.meta.url))).href
  writeFileSync(script, `
import { Gateway } from ${JSON.stringify(gatewayModule)}
const gateway = new Gateway()
gateway.logger.info({ req: { headers: { authorization: 'Bearer embedded-secret', accept: 'text/plain' } } }, 'with headers')
await gateway.close()
`)
  const run = await runToEnd(t, process.execPath, [script], { cwd: dir, timeoutMs: 20_000 })
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /"msg":"with headers"/)
  assert.doesNotMatch(run.stdout, /embedded-secret/)
  assert.match(run.stdout, /text\/plain/)
})
