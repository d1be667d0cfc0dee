/**
 * Many instances on one Redis: a config applied through one instance's admin API is
 * stored in Redis and applied by the others, each keeping its own listeners; an instance
 * that was down or cut off catches up; an invalid config, or one Redis cannot store, is
 * applied nowhere. Every instance is a `tollgate start` process, Redis a real redis-server.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { listeningPort, startCli, type RunningCli } from '../helpers/cli.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { tempFolder } from '../helpers/files.js'
import { reservedPorts } from '../helpers/ports.js'

const TOKEN = 'sync-test-token-0123456789'

interface Instance {
  readonly cli: RunningCli
  readonly port: number
  readonly adminPort: number
  /**
   * A whole config routing to `origin`, with this instance's listeners, as an operator
   * would PUT it after reading its GET /config.
   */
  configTo (origin: Origin, extra?: Record<string, unknown>): Record<string, unknown>
  /** The body of GET / through this instance's proxy listener. */
  proxied (): Promise<string>
  admin (method: 'GET' | 'PUT', path: string, body?: unknown): Promise<{ status: number, json: Record<string, unknown> }>
}

interface Cluster {
  readonly redis: TestRedis
  readonly blue: Origin
  readonly green: Origin
  /**
   * Starts an instance on ports of its own whose file routes to blue; `redisUrl` default:
   * the test's Redis.
   */
  start (name: string, options?: { redisUrl?: string, env?: NodeJS.ProcessEnv }): Promise<Instance>
}

async function cluster (t: TestContext): Promise<Cluster> {
  const redis = await startRedis(t)
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const dir = tempFolder(t, 'tollgate-sync-')
  const agent = new Agent()
  t.after(() => agent.close())
  return {
    redis,
    blue,
    green,
    async start (name, options = {}) {
      const [port, adminPort] = await reservedPorts(t, 2) as [number, number]
      const redisUrl = options.redisUrl ?? redis.url
      const configTo = (origin: Origin, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
        server: { listen: [{ host: '127.0.0.1', port }], gracefulShutdown: '1s', accessLog: false },
        admin: { listen: { host: '127.0.0.1', port: adminPort }, token: TOKEN },
        redis: { url: redisUrl },
        upstreams: { app: { targets: [origin.address] } },
        routes: [{ name: 'r', upstream: 'app' }],
        ...extra
      })
      const file = join(dir, `${name}.json`)
      writeFileSync(file, JSON.stringify(configTo(blue)))
      const cli = startCli(t, ['start', '-c', file], options.env === undefined ? {} : { env: options.env })
      assert.equal(await listeningPort(cli), port)
      await cli.waitForLog(l => l.msg === 'admin API listening')
      return {
        cli,
        port,
        adminPort,
        configTo,
        proxied: async () => await (await request(`http://127.0.0.1:${port}/`, { dispatcher: agent })).body.text(),
        admin: async (method, path, body) => {
          const res = await request(`http://127.0.0.1:${adminPort}${path}`, {
            dispatcher: agent,
            method,
            headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          })
          return { status: res.statusCode, json: await res.body.json() as Record<string, unknown> }
        }
      }
    }
  }
}

const applied = (version: number) => (line: Record<string, unknown>): boolean => line.msg === 'shared config applied' && line.version === version

test('a config PUT on one instance is stored in redis and applied by the other within a second; the other keeps its own listeners', async (t) => {
  const c = await cluster(t)
  const a = await c.start('a')
  const b = await c.start('b')
  assert.deepEqual([await a.proxied(), await b.proxied()], ['Response from BLUE', 'Response from BLUE'])

  const put = await a.admin('PUT', '/config', a.configTo(c.green))
  // Applied on this instance when the answer comes; the others follow through Redis.
  const appliedHere = Date.now()
  assert.equal(put.status, 200, JSON.stringify(put.json))
  assert.deepEqual(put.json, { applied: true, version: 1 })
  const there = await b.cli.waitForLog(applied(1), 5000)
  const lagMs = Number(there.time) - appliedHere
  assert.ok(lagMs < 1000, `applied by the other instance ${lagMs} ms after the PUT was answered`)
  t.diagnostic(`applied by the other instance ${lagMs} ms after the PUT was answered`)

  assert.equal(await b.proxied(), 'Response from GREEN', 'the other instance routes by the new config, on its own port')
  assert.equal(await a.proxied(), 'Response from GREEN')
  assert.equal((await b.admin('GET', '/health')).status, 200, 'its admin API stayed where it was')
  const stored = await c.redis.client().hgetall('tollgate:config')
  assert.equal(stored.version, '1')
  assert.deepEqual(JSON.parse(stored.config as string).upstreams, { app: { targets: [c.green.address] } })
  assert.equal(a.cli.lines.filter(l => l.msg === 'shared config applied').length, 0, 'the instance that applied it does not apply it twice')
})

test('an invalid config is refused by the instance it is sent to, stored nowhere and applied nowhere', async (t) => {
  const c = await cluster(t)
  const a = await c.start('a')
  const b = await c.start('b')
  const invalid = a.configTo(c.green, { routes: [{ name: 'r', upstream: 'missing' }] })
  const put = await a.admin('PUT', '/config', invalid)
  assert.equal(put.status, 400)
  assert.deepEqual(put.json.errors, [{ path: 'routes[0].upstream', message: 'names a missing upstream "missing"' }])
  assert.deepEqual(await c.redis.client().exists('tollgate:config'), 0, 'nothing stored')
  // A valid PUT after it is the first version the other instance sees: the invalid one was
  // never announced.
  const valid = await a.admin('PUT', '/config', a.configTo(c.green))
  assert.deepEqual(valid.json, { applied: true, version: 1 })
  await b.cli.waitForLog(applied(1), 5000)
  assert.equal(b.cli.lines.filter(l => l.msg === 'shared config applied').length, 1)
})

test('an instance that was down runs the shared config from its start, with its own file\'s listeners; SIGHUP keeps the shared config', async (t) => {
  const c = await cluster(t)
  const a = await c.start('a')
  assert.equal((await a.admin('PUT', '/config', a.configTo(c.green))).status, 200)

  const late = await c.start('late')
  await late.cli.waitForLog(l => l.msg === 'running the shared config from redis, with the instance keys of this config' && l.version === 1)
  assert.equal(await late.proxied(), 'Response from GREEN', 'its first answers already follow the shared config')
  assert.notEqual(late.port, a.port)

  late.cli.child.kill('SIGHUP')
  await late.cli.waitForLog(l => l.msg === 'config reloaded')
  assert.equal(await late.proxied(), 'Response from GREEN', 'a reload of its file keeps the shared routes')
})

test('a config that redis cannot store gets 503 CONFIG_STORE_UNAVAILABLE and changes nothing; once redis is back (empty) a PUT is shared again', async (t) => {
  const c = await cluster(t)
  const a = await c.start('a')
  const b = await c.start('b')
  await c.redis.kill()
  const refused = await a.admin('PUT', '/config', a.configTo(c.green))
  assert.equal(refused.status, 503, JSON.stringify(refused.json))
  assert.equal((refused.json.error as { code: string }).code, 'CONFIG_STORE_UNAVAILABLE')
  assert.equal(await a.proxied(), 'Response from BLUE', 'not applied on the instance it was sent to')
  assert.equal(await b.proxied(), 'Response from BLUE')

  const restarted = Date.now()
  await c.redis.start()
  // The connections come back by themselves (a PUT waits up to a second for them).
  await a.cli.waitForLog(l => l.msg === 'listening for shared config changes' && Number(l.time) >= restarted, 5000)
  const put = await a.admin('PUT', '/config', a.configTo(c.green))
  assert.equal(put.status, 200, JSON.stringify(put.json))
  assert.equal(put.json.version, 1, 'Redis came back empty: the versions start again')
  await b.cli.waitForLog(applied(put.json.version as number), 5000)
  assert.equal(await b.proxied(), 'Response from GREEN')
})

test('a config redis refuses to store (its key holds something else) is undone on the instance it was applied to: 503, the previous config runs', async (t) => {
  const c = await cluster(t)
  const a = await c.start('a')
  await c.redis.client().set('tollgate:config', 'not a hash')
  const refused = await a.admin('PUT', '/config', a.configTo(c.green))
  assert.equal(refused.status, 503, JSON.stringify(refused.json))
  assert.equal((refused.json.error as { code: string }).code, 'CONFIG_STORE_UNAVAILABLE')
  assert.equal(await a.proxied(), 'Response from BLUE')
  assert.equal(await c.redis.client().get('tollgate:config'), 'not a hash')
})

test('a tollgate:config hash no gateway wrote (a version that is no number, a config over 1 MB) is logged at start and ignored: the instance runs its file', async (t) => {
  const c = await cluster(t)
  const redis = c.redis.client()
  const cases = [
    { fields: { version: 'seven', config: '{}' }, reason: /not a positive integer/ },
    { fields: { version: '1', config: JSON.stringify({ routes: [], pad: 'x'.repeat(1024 * 1024) }) }, reason: /over the admin API's 1 MB/ }
  ]
  for (const [i, { fields, reason }] of cases.entries()) {
    await redis.hset('tollgate:config', fields)
    const instance = await c.start(`garbage-${i}`)
    const warning = await instance.cli.waitForLog(l => l.msg === 'the shared config could not be read from redis; this instance keeps the config it runs', 5000)
    assert.match(String((warning.err as { message: string }).message), reason)
    assert.equal(await instance.proxied(), 'Response from BLUE')
  }
})

test('a shared config that cannot run on an instance (a ${NAME} unset there) is refused there with a log; that instance keeps its config', async (t) => {
  const c = await cluster(t)
  const a = await c.start('a', { env: { ...process.env, ONLY_ON_A: 'green' } })
  const b = await c.start('b')
  const config = a.configTo(c.green, { routes: [{ name: 'r', upstream: 'app', responseHeaders: { set: { 'x-colour': '${ONLY_ON_A}' } } }] })
  const put = await a.admin('PUT', '/config', config)
  assert.equal(put.status, 200, JSON.stringify(put.json))
  const refusal = await b.cli.waitForLog(l => l.msg === 'the shared config from redis is refused here; this instance keeps the config it runs', 5000)
  assert.equal(refusal.version, 1)
  assert.match(JSON.stringify(refusal.issues), /ONLY_ON_A/)
  assert.equal(await b.proxied(), 'Response from BLUE')
  assert.equal(await a.proxied(), 'Response from GREEN')
})

test('an instance cut off from redis while a config was shared applies it as soon as its connection is back', async (t) => {
  const c = await cluster(t)
  const [relayPort] = await reservedPorts(t, 1) as [number]
  const relay = await tcpRelay(t, relayPort, c.redis.port)
  const a = await c.start('a')
  const b = await c.start('b', { redisUrl: `redis://127.0.0.1:${relayPort}` })

  await relay.cut()
  const put = await a.admin('PUT', '/config', a.configTo(c.green))
  assert.equal(put.status, 200)
  assert.equal(await b.proxied(), 'Response from BLUE', 'cut off, it has not heard')

  await relay.restore()
  await b.cli.waitForLog(applied(1), 5000)
  assert.equal(await b.proxied(), 'Response from GREEN')
})

/** A TCP relay to Redis that a test can cut (every connection dropped, none accepted) and restore. */
async function tcpRelay (t: TestContext, port: number, to: number): Promise<{ cut (): Promise<void>, restore (): Promise<void> }> {
  const sockets = new Set<Socket>()
  let server: Server | null = null
  const open = async (): Promise<void> => {
    const s = createServer(client => {
      const upstream = connect(to, '127.0.0.1')
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    s.listen(port, '127.0.0.1')
    await once(s, 'listening')
    server = s
  }
  const cut = async (): Promise<void> => {
    const s = server
    server = null
    for (const socket of sockets) socket.destroy()
    if (s !== null) await new Promise(resolve => s.close(resolve))
  }
  t.after(cut)
  await open()
  return { cut, restore: open }
}
