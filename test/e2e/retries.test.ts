import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request, Agent } from 'undici'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import { startOrigin, startRawOrigin } from '../helpers/origin.js'
import { refusedPort, refusedPorts } from '../helpers/ports.js'
import { startChildOrigin } from '../helpers/child-origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { within } from '../helpers/deadline.js'

test('a refused connection is retried on the next target', async (t) => {
  const live = await startOrigin(t, 'live')
  const dead = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { pair: { targets: [`127.0.0.1:${dead}`, live.address] } },
    routes: [{ name: 'r', upstream: 'pair' }]
  })
  const get = client(t)
  for (let i = 0; i < 4; i++) assert.equal((await get(`${gw.url}/`)).status, 200)
  assert.equal(live.received.length, 4)
})

test('a configured status is retried on the next target', async (t) => {
  const failing = await startOrigin(t, 'failing', { handler: (_req, res) => { res.statusCode = 503; res.end('busy') } })
  const live = await startOrigin(t, 'live')
  const gw = await startGateway(t, {
    upstreams: { pair: { targets: [failing.address, live.address], retries: { attempts: 1, on: ['connect-error', 503] } } },
    routes: [{ name: 'r', upstream: 'pair' }]
  })
  const get = client(t)
  for (let i = 0; i < 4; i++) {
    const res = await get(`${gw.url}/`)
    assert.equal(res.status, 200)
    assert.equal(res.text, 'Response from LIVE')
  }
  assert.equal(failing.received.length, 2, 'round robin still sends every other first try to the failing target')
})

test('when every try answers a retried status, the last answer is passed on', async (t) => {
  const one = await startOrigin(t, 'one', { handler: (_req, res) => { res.statusCode = 503; res.end('one busy') } })
  const two = await startOrigin(t, 'two', { handler: (_req, res) => { res.statusCode = 503; res.end('two busy') } })
  const gw = await startGateway(t, {
    upstreams: { pair: { targets: [one.address, two.address], retries: { attempts: 3, on: [503] } } },
    routes: [{ name: 'r', upstream: 'pair' }]
  })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 503)
  assert.equal(res.text, 'two busy')
  assert.equal(one.received.length + two.received.length, 2, 'each target is tried once')
})

test('methods outside retries.methods are not retried', async (t) => {
  const live = await startOrigin(t, 'live')
  const dead = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { pair: { targets: [`127.0.0.1:${dead}`, live.address] } },
    routes: [{ name: 'r', upstream: 'pair' }]
  })
  const res = await client(t)(`${gw.url}/`, { method: 'POST', body: 'payload' })
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal(live.received.length, 0)
})

test('a retried request with a body sends the whole body to the next target', async (t) => {
  const live = await startOrigin(t, 'live', { handler: (_req, res, body) => res.end(`got ${body}`) })
  const dead = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { pair: { targets: [`127.0.0.1:${dead}`, live.address] } },
    routes: [{ name: 'r', upstream: 'pair' }]
  })
  const payload = 'x'.repeat(100_000)
  const res = await client(t)(`${gw.url}/`, { method: 'PUT', body: payload })
  assert.equal(res.status, 200)
  assert.equal(res.text, `got ${payload}`)
})

test('a PUT is retried only while no byte of its body has gone upstream', async (t) => {
  // Both upstreams would retry a PUT on their backup; only the first try differs.
  const live = await startOrigin(t, 'live', { handler: (req, res, body) => res.end(`${req.method} got ${body}`) })
  let bodyReachedTarget!: () => void
  const bodyReached = new Promise<void>(resolve => { bodyReachedTarget = resolve })
  const breaking = await startRawOrigin(t, (socket) => {
    let seen = ''
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1')
      const head = seen.indexOf('\r\n\r\n')
      if (head < 0 || !seen.slice(head).includes('first-part;')) return
      // The head and the first part of the body are here: fail the exchange.
      socket.resetAndDestroy()
      bodyReachedTarget()
    })
  })
  const dead = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: {
      started: { targets: [breaking.address], backup: [live.address], retries: { attempts: 1 } },
      refused: { targets: [`127.0.0.1:${dead}`], backup: [live.address], retries: { attempts: 1 } }
    },
    routes: [
      { name: 'started', match: { path: '/started' }, upstream: 'started' },
      { name: 'refused', match: { path: '/refused' }, upstream: 'refused' }
    ]
  })
  // A streamed PUT whose first part reaches the target before the rest is sent.
  const put = async (path: string, beforeRest: () => Promise<void>): Promise<{ status: number, body: string }> => {
    const req = httpRequest(`${gw.url}${path}`, { method: 'PUT', agent: false, headers: { 'content-type': 'text/plain' } })
    t.after(() => req.destroy())
    const answered = new Promise<IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject) })
    req.write('first-part;')
    await beforeRest()
    req.end('second-part')
    const res = await within(answered, 5000, `PUT ${path} was not answered`)
    res.setEncoding('utf8')
    let body = ''
    res.on('data', (chunk: string) => { body += chunk })
    await within(once(res, 'end'), 5000, `the answer to PUT ${path} did not end`)
    return { status: res.statusCode ?? 0, body }
  }

  const started = await put('/started', async () => {
    await within(bodyReached, 5000, 'the first part of the body never reached the target')
  })
  assert.equal(started.status, 502, `a PUT whose body had begun upstream was answered ${started.status}: ${started.body}`)
  assert.equal((JSON.parse(started.body) as ErrorBody).error.code, 'UPSTREAM_UNAVAILABLE')
  assert.deepEqual(live.received, [], 'the PUT was retried on the backup after part of its body had gone to the first target')

  const refused = await put('/refused', async () => undefined)
  assert.equal(refused.status, 200, refused.body)
  assert.equal(refused.body, 'PUT got first-part;second-part', 'the retried PUT did not carry its whole body')
  assert.equal(live.received.length, 1)
})

test('retries stop after retries.attempts extra tries', async (t) => {
  const ports = await refusedPorts(t, 3)
  const live = await startOrigin(t, 'live')
  const gw = await startGateway(t, {
    upstreams: { many: { targets: [...ports.map(p => `127.0.0.1:${p}`), live.address], retries: { attempts: 1 } } },
    routes: [{ name: 'r', upstream: 'many' }]
  })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502, 'the first two (dead) targets exhaust one retry')
  assert.equal(live.received.length, 0)
})

test('200 concurrent GETs while one of two targets is SIGKILLed with requests in flight get no 5xx', async (t) => {
  // The doomed target holds every request it gets (it would answer after a minute): the ones
  // it has when it is killed were sent and not answered, and must be retried elsewhere.
  const doomed = await startChildOrigin(t, 'doomed', 60_000)
  const survivor = await startChildOrigin(t, 'survivor', 20)
  const gw = await startGateway(t, {
    upstreams: { pair: { targets: [doomed.address, survivor.address], retries: { attempts: 2 } } },
    routes: [{ name: 'r', upstream: 'pair' }]
  })
  const agent = new Agent({ connections: 200 })
  t.after(() => agent.close())
  const answers: { status: number, body: string }[] = []
  const send = async (): Promise<void> => {
    const res = await request(`${gw.url}/`, { dispatcher: agent })
    answers.push({ status: res.statusCode, body: await res.body.text() })
  }
  const wave = Promise.all(Array.from({ length: 200 }, send))
  await doomed.waitForRequests(20)
  const inFlight = doomed.requests()
  doomed.process.kill('SIGKILL')
  const exit = await within(doomed.exited, 5000, 'the doomed target did not die')
  assert.equal(exit.signal, 'SIGKILL')
  await within(wave, 30_000, 'the requests in flight on the killed target were not all answered')
  await within(Promise.all(Array.from({ length: 100 }, send)), 30_000, 'the requests sent after the kill were not all answered')
  assert.equal(answers.length, 300)
  assert.deepEqual(answers.filter(a => a.status >= 500), [], 'some requests failed')
  assert.deepEqual(answers.filter(a => a.body !== 'Response from SURVIVOR'), [], 'an answer came from elsewhere than the survivor')
  assert.ok(inFlight >= 20, `only ${inFlight} requests were in flight on the doomed target when it was killed`)
})
