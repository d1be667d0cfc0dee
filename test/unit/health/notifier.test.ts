// The health webhook against real servers on 127.0.0.1: events arrive as JSON, in order;
// one that is down or never answers costs the caller nothing and holds a bounded queue.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { WebhookNotifier, type HealthEvent } from '../../../src/health/notifier.js'
import { startOrigin } from '../../helpers/origin.js'
import { refusedPort } from '../../helpers/ports.js'
import { closed, within } from '../../helpers/deadline.js'
import { waitUntil } from '../../helpers/health.js'

function event (n: number): HealthEvent {
  return { type: 'target', upstream: 'blue', target: `127.0.0.1:${n}`, from: 'healthy', to: 'unhealthy', reason: `event ${n}`, at: new Date(0).toISOString() }
}

function recorder () {
  const lines: { fields: Record<string, unknown>, message: string }[] = []
  return { lines, log: { warn: (fields: object, message: string) => { lines.push({ fields: fields as Record<string, unknown>, message }) } } }
}

test('each event is POSTed as JSON, one at a time, in order', async (t) => {
  let arrived!: () => void
  const all = new Promise<void>(resolve => { arrived = resolve })
  const hook = await startOrigin(t, 'hook', {
    handler: (_req, res) => { res.end(); if (hook.received.length === 3) arrived() }
  })
  const notifier = new WebhookNotifier(`${hook.url}/alerts`, recorder().log)
  t.after(() => notifier.close())
  for (const n of [1, 2, 3]) notifier.send(event(n))
  await within(all, 5000, 'not every event arrived')
  assert.deepEqual(hook.received.map(r => [r.method, r.url, r.headers['content-type']]), Array(3).fill(['POST', '/alerts', 'application/json']))
  assert.deepEqual(hook.received.map(r => JSON.parse(r.body) as HealthEvent), [event(1), event(2), event(3)])
})

test('a webhook that never answers costs the sender nothing: each delivery is cut by the timeout, and the queue is bounded', async (t) => {
  const held: ServerResponse[] = []
  let firstArrived!: () => void
  const first = new Promise<void>(resolve => { firstArrived = resolve })
  const hook = await startOrigin(t, 'silent', { handler: (_req: IncomingMessage, res: ServerResponse) => { held.push(res); firstArrived() } })
  const { lines, log } = recorder()
  const notifier = new WebhookNotifier(hook.url, log, { timeoutMs: 100, queueSize: 5 })
  t.after(() => notifier.close())
  const started = performance.now()
  for (let n = 0; n < 50; n++) notifier.send(event(n))
  assert.ok(performance.now() - started < 50, 'sending blocked the caller')
  assert.equal(notifier.pending, 6, 'the queue holds more than its bound (5 queued + 1 in flight)')
  assert.equal(lines.filter(l => l.message.startsWith('health webhook is not keeping up')).length, 1, 'dropping was not logged exactly once')
  await within(first, 5000, 'the first event never arrived')
  // The in-flight delivery gives up after its timeout and the next one goes out.
  await waitUntil(() => hook.received.length >= 2, 5000, 'the delivery that got no answer was never cut')
  const failure = lines.find(l => l.message === 'health webhook delivery failed')
  assert.equal(failure?.fields.why, 'no answer within 100 ms')
  // The oldest events were dropped: what is delivered next is among the newest.
  assert.equal((JSON.parse(hook.received[1]?.body ?? '{}') as { target: string }).target, '127.0.0.1:45')
})

test('a webhook that is down is logged per failed delivery and does not stop the next ones', async (t) => {
  const port = await refusedPort(t)
  const { lines, log } = recorder()
  const notifier = new WebhookNotifier(`http://127.0.0.1:${port}/`, log)
  t.after(() => notifier.close())
  notifier.send(event(1))
  notifier.send(event(2))
  await waitUntil(() => notifier.pending === 0, 5000, 'the deliveries to a refused port never ended')
  const failed = lines.filter(l => l.message === 'health webhook delivery failed')
  assert.equal(failed.length, 2)
  assert.match(String(failed[0]?.fields.why), /ECONNREFUSED/)
})

test('close drops the queue and cuts the delivery in flight', async (t) => {
  let arrived!: (socket: Socket) => void
  const inFlight = new Promise<Socket>(resolve => { arrived = resolve })
  const hook = await startOrigin(t, 'silent', { handler: (req) => arrived(req.socket) })
  const notifier = new WebhookNotifier(hook.url, recorder().log, { timeoutMs: 60_000 })
  notifier.send(event(1))
  notifier.send(event(2))
  const socket = await within(inFlight, 5000, 'the first event never arrived')
  notifier.close()
  assert.equal(notifier.pending, 0)
  await within(closed(socket), 5000, 'the delivery in flight was not cut')
  notifier.send(event(3))
  assert.equal(notifier.pending, 0, 'a closed notifier queued an event')
  assert.equal(hook.received.length, 1)
})
