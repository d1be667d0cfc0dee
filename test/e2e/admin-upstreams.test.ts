import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { join } from 'node:path'
import { tempFolder } from '../helpers/files.js'
import { startOrigin } from '../helpers/origin.js'
import { startAdminGateway } from '../helpers/admin.js'
import { within } from '../helpers/deadline.js'
import type { ErrorBody } from '../helpers/client.js'
import type { UpstreamSnapshot } from '../../src/upstream/upstream.js'
import type { TargetSnapshot } from '../../src/upstream/target.js'

test('GET /upstreams lists each upstream with its targets: address, weight, healthy, enabled, inflight, lastError, source', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, {
    upstreams: {
      app: { targets: [blue.address, { address: green.address, weight: 3 }] },
      spare: { targets: [green.address] }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const res = await gw.admin('/upstreams')
  assert.equal(res.status, 200)
  const { upstreams } = res.json<{ upstreams: UpstreamSnapshot[] }>()
  assert.deepEqual(upstreams.map(u => u.name), ['app', 'spare'])
  const [first, second] = upstreams[0]?.targets ?? []
  assert.ok(first !== undefined && second !== undefined)
  for (const [target, address, weight] of [[first, blue.address, 1], [second, green.address, 3]] as const) {
    assert.equal(target.address, address)
    assert.equal(target.weight, weight)
    assert.equal(target.healthy, true)
    assert.equal(target.enabled, true)
    assert.equal(target.inflight, 0)
    assert.equal(target.lastError, null)
    assert.equal(target.source, 'static')
  }
})

test('disable drains a target: a request in flight on it finishes, new ones go elsewhere, its health is untouched; enable brings it back', async (t) => {
  let release = (): void => undefined
  let arrived = (): void => undefined
  const slowArrived = new Promise<void>(resolve => { arrived = resolve })
  const blue = await startOrigin(t, 'blue', {
    handler: (req, res) => {
      if (req.url !== '/slow') {
        res.end('Response from BLUE')
        return
      }
      release = () => { res.end('slow from BLUE') }
      arrived()
    }
  })
  t.after(() => release())
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, {
    upstreams: { app: { targets: [blue.address, green.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  // Round robin starts at blue: the slow request lands there.
  const slow = request(`${gw.url}/slow`)
  await within(slowArrived, 5000, 'the slow request never reached blue')

  const disabled = await gw.admin(`/upstreams/app/targets/${blue.address}/disable`, { method: 'POST' })
  assert.equal(disabled.status, 200, disabled.text)
  const shown = disabled.json<TargetSnapshot>()
  assert.equal(shown.address, blue.address)
  assert.equal(shown.enabled, false)
  assert.equal(shown.healthy, true, 'disabling leaves health alone')
  assert.equal(shown.inflight, 1, 'the slow request is still on it')

  const bodies = []
  for (let i = 0; i < 6; i++) bodies.push((await gw.get('/')).text)
  assert.deepEqual(new Set(bodies), new Set(['Response from GREEN']), 'no new request goes to the disabled target')

  release()
  const finished = await slow
  assert.equal(finished.statusCode, 200)
  assert.equal(await finished.body.text(), 'slow from BLUE', 'the request in flight finished on the disabled target')

  const listed = (await gw.admin('/upstreams')).json<{ upstreams: UpstreamSnapshot[] }>()
  const target = listed.upstreams[0]?.targets.find(x => x.address === blue.address)
  assert.equal(target?.enabled, false)
  assert.equal(target?.healthy, true)
  assert.equal(target?.inflight, 0)

  const enabled = await gw.admin(`/upstreams/app/targets/${blue.address}/enable`, { method: 'POST' })
  assert.equal(enabled.json<TargetSnapshot>().enabled, true)
  const after = []
  for (let i = 0; i < 4; i++) after.push((await gw.get('/')).text)
  assert.ok(after.includes('Response from BLUE'), 'the enabled target takes requests again')
})

test('disabling every primary leaves the upstream with no target: 503 NO_HEALTHY_UPSTREAM', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, {
    upstreams: { app: { targets: [blue.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  assert.equal((await gw.admin(`/upstreams/app/targets/${blue.address}/disable`, { method: 'POST' })).status, 200)
  const res = await gw.get('/')
  assert.equal(res.status, 503)
  assert.equal(res.json<ErrorBody>().error.code, 'NO_HEALTHY_UPSTREAM')
  assert.equal(blue.received.length, 0)
})

test('an unknown upstream or target gets 404 JSON', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, {
    upstreams: { app: { targets: [blue.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  for (const path of [`/upstreams/nope/targets/${blue.address}/disable`, '/upstreams/app/targets/127.0.0.1:1/enable']) {
    const res = await gw.admin(path, { method: 'POST' })
    assert.equal(res.status, 404, path)
    const body = res.json<ErrorBody>()
    assert.equal(body.error.code, 'NOT_FOUND')
    assert.equal(body.error.status, 404)
  }
})

test('a Unix socket target is named unix:<path>, its slashes escaped in the URL', async (t) => {
  const dir = tempFolder(t, 'tollgate-admin-sock-')
  const socketPath = join(dir, 'app.sock')
  await startOrigin(t, 'sock', { socketPath })
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, {
    upstreams: { app: { targets: [{ socketPath }, green.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const listed = (await gw.admin('/upstreams')).json<{ upstreams: UpstreamSnapshot[] }>()
  assert.equal(listed.upstreams[0]?.targets[0]?.address, `unix:${socketPath}`)
  const res = await gw.admin(`/upstreams/app/targets/${encodeURIComponent(`unix:${socketPath}`)}/disable`, { method: 'POST' })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.json<TargetSnapshot>().enabled, false)
  for (let i = 0; i < 3; i++) assert.equal((await gw.get('/')).text, 'Response from GREEN')
})

test('PUT /upstreams/:name/targets switches traffic at the next request; a target that stays keeps its connection; backups stay', async (t) => {
  const blueSockets = new Set<unknown>()
  const blue = await startOrigin(t, 'blue', {
    handler: (req, res) => { blueSockets.add(req.socket); res.end('Response from BLUE') }
  })
  const green = await startOrigin(t, 'green')
  const spare = await startOrigin(t, 'spare')
  const gw = await startAdminGateway(t, {
    upstreams: { app: { targets: [blue.address], backup: [spare.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  assert.equal((await gw.get('/')).text, 'Response from BLUE')
  const res = await gw.admin('/upstreams/app/targets', { method: 'PUT', json: { targets: [green.address, { address: blue.address, weight: 2 }] } })
  assert.equal(res.status, 200, res.text)
  const upstream = res.json<UpstreamSnapshot>()
  assert.deepEqual(upstream.targets.map(target => [target.address, target.weight]), [[green.address, 1], [blue.address, 2], [spare.address, 1]])
  const seen = new Set<string>()
  for (let i = 0; i < 6; i++) seen.add((await gw.get('/')).text)
  assert.deepEqual([...seen].sort(), ['Response from BLUE', 'Response from GREEN'])
  assert.equal(blueSockets.size, 1, 'blue stayed: its pooled connection was kept')

  const only = await gw.admin('/upstreams/app/targets', { method: 'PUT', json: { targets: [green.address] } })
  assert.equal(only.status, 200, only.text)
  for (let i = 0; i < 3; i++) assert.equal((await gw.get('/')).text, 'Response from GREEN')
  const listed = (await gw.admin('/upstreams')).json<{ upstreams: UpstreamSnapshot[] }>().upstreams[0]
  assert.deepEqual(listed?.targets.map(target => target.address), [green.address, spare.address])
})

test('PUT /upstreams/:name/targets refuses what it cannot apply, and changes nothing then', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, {
    upstreams: { app: { targets: [blue.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const cases: Array<[string, unknown, number]> = [
    ['/upstreams/nope/targets', { targets: [blue.address] }, 404],
    ['/upstreams/app/targets', { targets: [] }, 400],
    ['/upstreams/app/targets', { targets: ['not an address:'] }, 400],
    ['/upstreams/app/targets', { targets: [blue.address], extra: true }, 400],
    ['/upstreams/app/targets', ['127.0.0.1:1'], 400]
  ]
  for (const [path, body, status] of cases) {
    const res = await gw.admin(path, { method: 'PUT', json: body })
    assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`)
    assert.equal(res.json<ErrorBody>().error.status, status)
  }
  for (let i = 0; i < 3; i++) assert.equal((await gw.get('/')).text, 'Response from BLUE')
})
