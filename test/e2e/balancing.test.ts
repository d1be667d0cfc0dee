import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { refusedPort } from '../helpers/ports.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { once } from 'node:events'

test('round robin alternates Blue, Green, Blue, Green', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startGateway(t, { upstreams: { both: { targets: [blue.address, green.address] } }, routes: [{ name: 'r', upstream: 'both' }] })
  const get = client(t)
  const seen: string[] = []
  for (let i = 0; i < 6; i++) seen.push((await get(`${gw.url}/`)).text)
  assert.deepEqual(seen, ['BLUE', 'GREEN', 'BLUE', 'GREEN', 'BLUE', 'GREEN'].map(n => `Response from ${n}`))
})

test('weights 3:1 give exactly 3 Blue and 1 Green in every window of 4', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startGateway(t, {
    upstreams: { both: { targets: [{ address: blue.address, weight: 3 }, { address: green.address, weight: 1 }] } },
    routes: [{ name: 'r', upstream: 'both' }]
  })
  const get = client(t)
  const seen: string[] = []
  for (let i = 0; i < 16; i++) seen.push((await get(`${gw.url}/`)).text)
  for (let w = 0; w < 16; w += 4) {
    const window = seen.slice(w, w + 4)
    assert.equal(window.filter(s => s.includes('BLUE')).length, 3, `window ${w / 4}: ${window.join(',')}`)
  }
})

test('consistent hashing on path sends the same path to the same target', async (t) => {
  const origins = await Promise.all(['a', 'b', 'c'].map(n => startOrigin(t, n)))
  const gw = await startGateway(t, {
    upstreams: { ring: { targets: origins.map(o => o.address), balancer: 'consistent-hash', hash: { key: 'path' } } },
    routes: [{ name: 'r', upstream: 'ring' }]
  })
  const get = client(t)
  const first = new Map<string, string>()
  for (let i = 0; i < 30; i++) first.set(`/p/${i}`, (await get(`${gw.url}/p/${i}`)).text)
  for (let i = 0; i < 30; i++) assert.equal((await get(`${gw.url}/p/${i}`)).text, first.get(`/p/${i}`))
  assert.ok(new Set(first.values()).size > 1, 'every path landed on one target')
})

test('sticky cookie: the first response sets it and every later request with it hits the same target', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startGateway(t, {
    upstreams: { both: { targets: [blue.address, green.address], balancer: 'sticky-cookie', sticky: { cookie: 'tg', ttl: '1h' } } },
    routes: [{ name: 'r', upstream: 'both' }]
  })
  const get = client(t)
  const first = await get(`${gw.url}/a`)
  const setCookie = String(first.headers['set-cookie'])
  assert.match(setCookie, /^tg=[^;]+; Path=\/; Max-Age=3600; HttpOnly/)
  const cookie = setCookie.split(';')[0] as string
  for (const path of ['/a', '/b', '/c/d', '/e']) {
    const res = await get(`${gw.url}${path}`, { headers: { cookie } })
    assert.equal(res.text, first.text, `${path} went elsewhere`)
    assert.equal(res.headers['set-cookie'], undefined, 'a request carrying a valid cookie gets no new one')
  }
})

test('the backup target gets traffic only when no primary can be reached', async (t) => {
  const primary = await startOrigin(t, 'primary')
  const backup = await startOrigin(t, 'backup')
  const dead = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: {
      alive: { targets: [primary.address], backup: [backup.address] },
      down: { targets: [`127.0.0.1:${dead}`], backup: [backup.address] }
    },
    routes: [
      { name: 'down', match: { path: '/down' }, upstream: 'down' },
      { name: 'alive', upstream: 'alive' }
    ]
  })
  const get = client(t)
  for (let i = 0; i < 4; i++) assert.equal((await get(`${gw.url}/`)).text, 'Response from PRIMARY')
  assert.equal(backup.received.length, 0)
  assert.equal((await get(`${gw.url}/down`)).text, 'Response from BACKUP')
})

test('least-connections sends new requests to the idle target while the other is busy', async (t) => {
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  const holdOnSlowPath = (name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    if (req.url === '/hold') void held.then(() => res.end(name))
    else res.end(name)
  }
  const a = await startOrigin(t, 'a', { handler: holdOnSlowPath('A') })
  const b = await startOrigin(t, 'b', { handler: holdOnSlowPath('B') })
  const gw = await startGateway(t, {
    upstreams: { lc: { targets: [a.address, b.address], balancer: 'least-connections' } },
    routes: [{ name: 'r', upstream: 'lc' }]
  })
  const get = client(t)
  const arrived = Promise.race([once(a.server, 'request').then(() => 'A'), once(b.server, 'request').then(() => 'B')])
  const slow = get(`${gw.url}/hold`)
  const busy = await arrived
  const quick: string[] = []
  for (let i = 0; i < 3; i++) quick.push((await get(`${gw.url}/quick`)).text)
  const idle = busy === 'A' ? 'B' : 'A'
  assert.deepEqual(quick, [idle, idle, idle])
  release()
  assert.equal((await slow).text, busy)
})
