/**
 * The gateway's own request checks: IP filter, in-flight limits, body limits and
 * inspection, with clients on different loopback addresses (all of 127.0.0.0/8 is local).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { rawExchange, type ErrorBody } from '../helpers/client.js'
import { eventually, within } from '../helpers/deadline.js'

/** GET from a given local address; resolves with status and body. */
function from (t: TestContext, localAddress: string) {
  const agent = new Agent({ localAddress })
  t.after(() => agent.close())
  return async (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> => {
    const res = await request(url, { dispatcher: agent, headers })
    return { status: res.statusCode, body: await res.body.text() }
  }
}

test('ipFilter: an allowed address passes, a denied one gets 403 IP_FORBIDDEN; deny wins', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', ipFilter: { allow: ['127.0.0.0/29'], deny: ['127.0.0.3/32'] } }]
  })
  assert.equal((await from(t, '127.0.0.2')(`${gw.url}/`)).status, 200)
  const denied = await from(t, '127.0.0.3')(`${gw.url}/`)
  assert.equal(denied.status, 403)
  assert.equal((JSON.parse(denied.body) as ErrorBody).error.code, 'IP_FORBIDDEN')
  const outside = await from(t, '127.0.0.9')(`${gw.url}/`)
  assert.equal(outside.status, 403, 'an address outside the allow list passed')
  assert.equal(up.received.length, 1)
})

test('ipFilter: a client that is not a trusted proxy cannot pass by forging X-Forwarded-For', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', ipFilter: { allow: ['10.0.0.0/8'] } }]
  })
  const forged = await from(t, '127.0.0.2')(`${gw.url}/`, { 'x-forwarded-for': '10.1.2.3' })
  assert.equal(forged.status, 403)
  assert.equal(up.received.length, 0)
})

test('ipFilter: behind a trusted proxy, the right-most untrusted X-Forwarded-For address is the client', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { trustProxy: ['127.0.0.0/8'] },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', ipFilter: { deny: ['203.0.113.7/32'] } }]
  })
  const send = from(t, '127.0.0.2')
  assert.equal((await send(`${gw.url}/`, { 'x-forwarded-for': '198.51.100.1' })).status, 200)
  // The left-most entry is the client's own claim; the proxy appended the real address.
  assert.equal((await send(`${gw.url}/`, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).status, 403)
  assert.equal((await send(`${gw.url}/`, { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' })).status, 200)
})

test('ipFilter: an IPv4 client of a dual-stack listener is matched by its IPv4 address', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { listen: [{ host: '::', port: 0 }] },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', ipFilter: { allow: ['127.0.0.2/32'] } }]
  })
  assert.equal((await from(t, '127.0.0.2')(`http://127.0.0.1:${gw.port}/`)).status, 200)
  assert.equal((await from(t, '127.0.0.3')(`http://127.0.0.1:${gw.port}/`)).status, 403)
})

/** An upstream that holds every request until `release()`; `arrived` counts them. */
async function holdingOrigin (t: TestContext) {
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  let waiting: (() => void)[] = []
  const state = { arrived: 0 }
  const up = await startOrigin(t, 'up', {
    handler: (_req, res) => {
      state.arrived++
      for (const wake of waiting.splice(0)) wake()
      void released.then(() => res.end('done'))
    }
  })
  t.after(() => release())
  const arrivals = async (n: number): Promise<void> => {
    while (state.arrived < n) await new Promise<void>(resolve => waiting.push(resolve))
  }
  return { up, release, arrivals, state, reset: () => { waiting = [] } }
}

test('concurrency: with a limit of 2 and a held upstream, 2 of 5 parallel requests pass and 3 get 429 at once', async (t) => {
  const held = await holdingOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [held.up.address] } },
    routes: [{ name: 'r', upstream: 'up', concurrency: { limit: 2 } }]
  })
  const agent = new Agent({ connections: 10 })
  t.after(() => agent.close())
  const statuses: number[] = []
  const sends = Array.from({ length: 5 }, async () => {
    const res = await request(`${gw.url}/`, { dispatcher: agent })
    const body = await res.body.text()
    statuses.push(res.statusCode)
    return body
  })
  // Three are refused while two are held at the upstream.
  await within(held.arrivals(2), 5000, 'the two admitted requests never reached the upstream')
  await eventually(() => statuses.length >= 3, 5000, () => `only ${statuses.length} requests were answered while two were held`)
  assert.deepEqual(statuses, [429, 429, 429])
  held.release()
  const bodies = await within(Promise.all(sends), 5000, 'the held requests were not answered')
  assert.deepEqual(statuses.sort(), [200, 200, 429, 429, 429])
  assert.equal(bodies.filter(b => b.includes('TOO_MANY_CONCURRENT')).length, 3)
})

test('concurrency: a slot comes back however a request ends; after 1 000 aborted requests exactly the limit is admitted', async (t) => {
  let arrived = 0
  const up = await startOrigin(t, 'up', { handler: (req, res) => { arrived++; if (req.url === '/hold') return; res.end('ok') } })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', concurrency: { limit: 3 } }]
  })
  // 1 000 requests abandoned by their client: in waves of 5, 3 reach the upstream and are
  // held there (600 slots taken and given back by an abort), 2 are refused.
  for (let wave = 0; wave < 200; wave++) {
    const sockets: Socket[] = []
    const before = arrived
    for (let i = 0; i < 5; i++) {
      const socket = connect(gw.port, '127.0.0.1')
      socket.on('error', () => undefined)
      sockets.push(socket)
      socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n')
    }
    await eventually(() => arrived >= before + 3, 5000, 'the wave\'s admitted requests did not reach the upstream')
    for (const socket of sockets) socket.destroy()
    await Promise.all(sockets.map(async s => { if (!s.closed) await once(s, 'close') }))
  }
  // Every slot is free again: 3 held requests are admitted, a 4th is refused.
  const held: Socket[] = []
  t.after(() => { for (const s of held) s.destroy() })
  const before = arrived
  for (let i = 0; i < 3; i++) {
    const socket = connect(gw.port, '127.0.0.1')
    held.push(socket)
    socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n')
  }
  await eventually(() => arrived >= before + 3, 5000, 'the freed slots did not admit 3 requests')
  const fourth = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.match(fourth.data, /^HTTP\/1\.1 429 /)
})

test('concurrency: key ip limits each client address on its own', async (t) => {
  const held = await holdingOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [held.up.address] } },
    routes: [{ name: 'r', upstream: 'up', concurrency: { limit: 1, key: 'ip' } }]
  })
  const a = from(t, '127.0.0.2')
  const b = from(t, '127.0.0.3')
  const first = a(`${gw.url}/`)
  await within(held.arrivals(1), 5000, 'the first request never arrived')
  assert.equal((await a(`${gw.url}/`)).status, 429, 'the same address got a second slot')
  const other = b(`${gw.url}/`)
  await within(held.arrivals(2), 5000, 'another address was refused')
  held.release()
  assert.equal((await first).status, 200)
  assert.equal((await other).status, 200)
})

test('bodyLimit per route: a larger Content-Length gets 413 before a byte is read; the server limit applies elsewhere', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { bodyLimit: '1kb' } },
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'small', match: { path: '/small' }, upstream: 'up', bodyLimit: '100b' },
      { name: 'large', match: { path: '/large' }, upstream: 'up', bodyLimit: '4kb' },
      { name: 'rest', upstream: 'up' }
    ]
  })
  const post = async (path: string, size: number): Promise<number> => {
    const res = await rawExchange(gw.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`)
    assert.doesNotMatch(res.data, /100 Continue/, `${path} ${size}: asked for the body before refusing it`)
    return Number(/^HTTP\/1\.1 (\d+)/.exec(res.data)?.[1])
  }
  assert.equal(await post('/small', 150), 413)
  assert.equal(await post('/large', 2048 + 4096), 413)
  assert.equal(await post('/other', 2048), 413)
  const fits = await rawExchange(gw.port, 'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd')
  assert.match(fits.data, /^HTTP\/1\.1 200 /)
  assert.equal(up.received.length, 1)
})

test('bodyLimit per route: a chunked body over it gets 413 and the upstream never gets a complete request', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', bodyLimit: '100b' }]
  })
  const chunk = (text: string): string => `${text.length.toString(16)}\r\n${text}\r\n`
  const res = await rawExchange(gw.port, `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk('a'.repeat(80))}${chunk('b'.repeat(70))}0\r\n\r\n`)
  assert.match(res.data, /^HTTP\/1\.1 413 /)
  assert.equal(up.received.length, 0)
})

test('inspect: a blocked word is found even split over two TCP writes; the upstream receives nothing', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', inspect: { block: ['rogue', '/union\\s+select/i'] } }]
  })
  const socket = connect(gw.port, '127.0.0.1')
  t.after(() => socket.destroy())
  await once(socket, 'connect')
  let answer = ''
  socket.on('data', (c: Buffer) => { answer += c.toString() })
  const body = 'name=ro' + 'gue&x=1'
  socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\nname=ro`)
  // The scenario itself: the second part must arrive in a TCP segment of its own, after
  // the gateway has read the first (no event tells when it has; 50 ms is ample).
  await new Promise(resolve => setTimeout(resolve, 50))
  socket.write('gue&x=1')
  await within(once(socket, 'close'), 5000, 'the gateway did not answer')
  assert.match(answer, /^HTTP\/1\.1 403 /)
  assert.match(answer, /"REQUEST_BLOCKED"/)
  const regex = await rawExchange(gw.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 25\r\nConnection: close\r\n\r\nq=1 UNION   SELECT pass--')
  assert.match(regex.data, /^HTTP\/1\.1 403 /)
  assert.equal(up.received.length, 0)
  const clean = await rawExchange(gw.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nname=alice')
  assert.match(clean.data, /^HTTP\/1\.1 200 /)
  assert.equal(up.received[0]?.body, 'name=alice', 'a clean body reaches the upstream whole')
})

test('inspect: only maxBytes are held and searched; the rest streams on unread', async (t) => {
  const up = await startOrigin(t, 'up', { handler: (_req, res, body) => res.end(`got ${body.length}`) })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', inspect: { block: ['rogue'], maxBytes: '1kb' } }]
  })
  const late = 'x'.repeat(2048) + 'rogue'
  const passed = await rawExchange(gw.port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${late.length}\r\nConnection: close\r\n\r\n${late}`)
  assert.match(passed.data, /^HTTP\/1\.1 200 /)
  assert.match(passed.data, new RegExp(`got ${late.length}$`), 'the body did not reach the upstream whole')
  const early = 'x'.repeat(1000) + 'rogue' + 'x'.repeat(2048)
  const blocked = await rawExchange(gw.port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${early.length}\r\nConnection: close\r\n\r\n${early}`)
  assert.match(blocked.data, /^HTTP\/1\.1 403 /)
  // A body sent after Expect: 100-continue is inspected too.
  const socket = connect(gw.port, '127.0.0.1')
  t.after(() => socket.destroy())
  let answer = ''
  socket.on('data', (c: Buffer) => {
    answer += c.toString()
    if (answer === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('rogue')
  })
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n')
  await within(once(socket, 'close'), 5000, 'the gateway did not answer an inspected Expect: 100-continue request')
  assert.match(answer, /HTTP\/1\.1 403 /)
  assert.equal(up.received.length, 1)
})

test('bad Content-Lengths get 400 or 413, a body that stops halfway ends cleanly, and the gateway keeps serving', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', bodyLimit: '1kb', inspect: { block: ['rogue'] } }, { name: 'plain', match: { path: '/plain' }, upstream: 'up' }]
  })
  const status = (data: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)
  for (const [length, expected] of [['-5', 400], ['abc', 400], ['12 34', 400], ['99999999999999999999', 400], ['18446744073709551615', 413]] as const) {
    const res = await rawExchange(gw.port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`)
    assert.equal(status(res.data), expected, `Content-Length: ${length}`)
  }
  // A body that stops halfway, on an inspected route and on a plain one: the client leaves.
  for (const path of ['/', '/plain']) {
    const socket = connect(gw.port, '127.0.0.1')
    socket.on('error', () => undefined)
    await once(socket, 'connect')
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n${'a'.repeat(50)}`)
    socket.destroy()
  }
  const after = await rawExchange(gw.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfine')
  assert.equal(status(after.data), 200, 'the gateway stopped serving after bad bodies')
  assert.equal(up.received.filter(r => r.body.length === 100).length, 0, 'a truncated body reached the upstream as complete')
})
