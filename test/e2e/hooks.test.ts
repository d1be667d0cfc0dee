import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { refusedPort } from '../helpers/ports.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { defineRoute, errors } from '../../src/index.js'
import type { RequestContext } from '../../src/context.js'

test('the five hooks run in their phases and share one ctx', async (t) => {
  const up = await startOrigin(t, 'up', { handler: (req, res) => { res.setHeader('x-from-upstream', String(req.headers['x-step'])); res.end('ok') } })
  const seen: string[] = []
  let finish!: (ctx: RequestContext) => void
  const finished = new Promise<RequestContext>(resolve => { finish = resolve })
  const route = defineRoute({
    name: 'hooked',
    upstream: 'up',
    hooks: {
      onRequest (_request, _reply, ctx) {
        seen.push('onRequest')
        ctx.state.step = 'one'
      },
      upstreamRequest (_request, headers, ctx) {
        seen.push('upstreamRequest')
        headers['x-step'] = String(ctx.state.step)
      },
      upstreamResponse (_request, reply, ctx) {
        seen.push('upstreamResponse')
        reply.header('x-target', ctx.target?.id ?? '')
        reply.code(202)
      },
      onResponse (_request, _reply, ctx) {
        seen.push('onResponse')
        finish(ctx)
      }
    }
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [route] })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 202)
  assert.equal(res.headers['x-from-upstream'], 'one')
  assert.equal(res.headers['x-target'], up.address)
  assert.deepEqual(seen.slice(0, 3), ['onRequest', 'upstreamRequest', 'upstreamResponse'])
  const ctx = await finished
  assert.deepEqual(seen, ['onRequest', 'upstreamRequest', 'upstreamResponse', 'onResponse'])
  assert.equal(ctx.requestId, res.headers['x-request-id'])
})

test('onRequest may answer early, and a thrown gateway error becomes the JSON error', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      defineRoute({
        name: 'early',
        match: { path: '/early' },
        upstream: 'up',
        hooks: { onRequest (_request, reply) { reply.send({ early: true }) } }
      }),
      defineRoute({
        name: 'guarded',
        match: { path: '/guarded' },
        upstream: 'up',
        hooks: {
          onRequest (request) {
            if (request.headers['x-api-key'] !== 'k') throw new errors.Unauthorized('missing or wrong key')
          }
        }
      })
    ]
  })
  const get = client(t)
  const early = await get(`${gw.url}/early`)
  assert.deepEqual(early.json(), { early: true })
  const refused = await get(`${gw.url}/guarded`)
  assert.equal(refused.status, 401)
  assert.equal(refused.json<ErrorBody>().error.code, 'UNAUTHORIZED')
  assert.equal((await get(`${gw.url}/guarded`, { headers: { 'x-api-key': 'k' } })).status, 200)
  assert.equal(up.received.length, 1)
})

test('onError may replace the error reply, or leave the contract error in place', async (t) => {
  const port = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { gone: { targets: [`127.0.0.1:${port}`] } },
    routes: [
      defineRoute({
        name: 'custom',
        match: { path: '/custom' },
        upstream: 'gone',
        hooks: { onError (_request, reply, error) { reply.code(503).send({ fallback: true, was: error.code }) } }
      }),
      defineRoute({
        name: 'observed',
        match: { path: '/observed' },
        upstream: 'gone',
        hooks: { onError (_request, reply) { reply.header('x-observed', 'yes') } }
      })
    ]
  })
  const get = client(t)
  const custom = await get(`${gw.url}/custom`)
  assert.equal(custom.status, 503)
  assert.deepEqual(custom.json(), { fallback: true, was: 'UPSTREAM_UNAVAILABLE' })
  const observed = await get(`${gw.url}/observed`)
  assert.equal(observed.status, 502)
  assert.equal(observed.headers['x-observed'], 'yes')
  assert.equal(observed.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
})

test('a hook that throws an ordinary error gives 500 INTERNAL_ERROR and the gateway keeps serving', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      defineRoute({ name: 'broken', match: { path: '/broken' }, upstream: 'up', hooks: { onRequest () { throw new Error('bug in a hook') } } }),
      { name: 'fine', upstream: 'up' }
    ]
  })
  const get = client(t)
  const broken = await get(`${gw.url}/broken`)
  assert.equal(broken.status, 500)
  assert.equal(broken.json<ErrorBody>().error.code, 'INTERNAL_ERROR')
  assert.equal((await get(`${gw.url}/fine`)).status, 200)
})

test('a hook reads request.query, and request.log writes to the gateway\'s log', async (t) => {
  const up = await startOrigin(t, 'up')
  const lines: Record<string, unknown>[] = []
  let query: unknown = null
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [defineRoute({
      name: 'q',
      upstream: 'up',
      hooks: {
        onRequest (request) {
          query = { ...(request.query as Record<string, unknown>) }
          request.log.info({ seen: 'yes' }, 'from a hook')
        }
      }
    })]
  }, { logLevel: 'info', logTo: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) })
  const res = await client(t)(`${gw.url}/x?a=1&b=two`)
  assert.equal(res.status, 200)
  assert.deepEqual(query, { a: '1', b: 'two' })
  const logged = lines.find(l => l.msg === 'from a hook')
  assert.ok(logged !== undefined, 'the hook\'s log line did not reach the gateway\'s log')
  assert.equal(logged.requestId, res.headers['x-request-id'])
})

test('upstreamResponse may replace the response, and one that throws gives 500 INTERNAL_ERROR', async (t) => {
  const up = await startOrigin(t, 'up', { handler: (_req, res) => { res.setHeader('x-from', 'upstream'); res.end('upstream body') } })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      defineRoute({
        name: 'replace',
        match: { path: '/replace' },
        upstream: 'up',
        hooks: { upstreamResponse (_request, reply) { reply.code(203).header('x-replaced', 'yes').send('from the hook') } }
      }),
      defineRoute({
        name: 'throws',
        match: { path: '/throws' },
        upstream: 'up',
        hooks: { upstreamResponse () { throw new Error('hook broke') } }
      }),
      defineRoute({
        name: 'async',
        match: { path: '/async' },
        upstream: 'up',
        hooks: {
          async upstreamResponse (_request, reply) {
            await new Promise(resolve => setImmediate(resolve))
            reply.header('x-after-await', 'yes')
          }
        }
      })
    ]
  })
  const get = client(t)
  const replaced = await get(`${gw.url}/replace`)
  assert.equal(replaced.status, 203)
  assert.equal(replaced.text, 'from the hook')
  assert.equal(replaced.headers['x-replaced'], 'yes')
  const thrown = await get(`${gw.url}/throws`)
  assert.equal(thrown.status, 500)
  assert.equal(thrown.json<ErrorBody>().error.code, 'INTERNAL_ERROR')
  const awaited = await get(`${gw.url}/async`)
  assert.equal(awaited.status, 200)
  assert.equal(awaited.text, 'upstream body')
  assert.equal(awaited.headers['x-after-await'], 'yes')
  assert.equal(awaited.headers['x-from'], 'upstream')
  assert.equal((await get(`${gw.url}/async`)).text, 'upstream body', 'the gateway serves on after all three')
})
