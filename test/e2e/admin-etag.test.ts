import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { ADMIN_TOKEN, startAdminGateway, type AdminGateway } from '../helpers/admin.js'
import type { Reply } from '../helpers/client.js'

/** A whole config as a client would PUT it: listeners and admin as the running gateway has them. */
function whole (gw: AdminGateway, upstream: string): Record<string, unknown> {
  return {
    server: { listen: [{ host: '127.0.0.1', port: gw.port }], accessLog: false, logLevel: 'silent' },
    admin: { listen: { host: '127.0.0.1', port: gw.gateway.adminAddress()?.port ?? 0 }, token: ADMIN_TOKEN },
    upstreams: { app: { targets: [upstream] } },
    routes: [{ name: 'r', upstream: 'app' }]
  }
}

function etagOf (res: Reply): string {
  const etag = res.headers.etag
  assert.equal(typeof etag, 'string', `no ETag on a ${res.status}`)
  return etag as string
}

test('GET /config carries a strong ETag and cache-control: no-cache; sent back, it gets 304 without a body', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const first = await gw.admin('/config')
  assert.equal(first.status, 200)
  const etag = etagOf(first)
  assert.match(etag, /^"[A-Za-z0-9_-]+"$/)
  assert.equal(first.headers['cache-control'], 'no-cache')
  assert.equal(etagOf(await gw.admin('/config')), etag, 'the same config, the same tag')

  const again = await gw.admin('/config', { headers: { 'if-none-match': etag } })
  assert.equal(again.status, 304)
  assert.equal(again.text, '')
  assert.equal(again.headers.etag, etag)
  assert.equal(again.headers['cache-control'], 'no-cache')
  assert.equal(again.headers['content-type'], undefined)
  assert.equal(again.headers['content-length'], undefined)

  // The weak comparison (RFC 9110 §13.1.2): W/ is ignored; any tag of a list may match; * matches.
  for (const ifNoneMatch of [`W/${etag}`, `"other", ${etag}`, '"a,b", W/"x",' + etag, '*']) {
    assert.equal((await gw.admin('/config', { headers: { 'if-none-match': ifNoneMatch } })).status, 304, ifNoneMatch)
  }
  const other = await gw.admin('/config', { headers: { 'if-none-match': '"something-else"' } })
  assert.equal(other.status, 200)
  assert.equal(other.text, first.text)
})

test('after PUT /config the old ETag gets 200 with the new config and a new ETag', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const old = etagOf(await gw.admin('/config'))
  assert.equal((await gw.admin('/config', { headers: { 'if-none-match': old } })).status, 304)

  const put = await gw.admin('/config', { method: 'PUT', json: whole(gw, green.address) })
  assert.equal(put.status, 200, put.text)

  const after = await gw.admin('/config', { headers: { 'if-none-match': old } })
  assert.equal(after.status, 200, 'a stale 304 would hide the change')
  assert.deepEqual(after.json<{ upstreams: { app: { targets: string[] } } }>().upstreams.app.targets, [green.address])
  const fresh = etagOf(after)
  assert.notEqual(fresh, old)
  assert.equal((await gw.admin('/config', { headers: { 'if-none-match': fresh } })).status, 304)
})

test('an ETag is only good for the reply it came with: /config\'s tag sent to GET /upstreams gets 200', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const configTag = etagOf(await gw.admin('/config'))
  const upstreams = await gw.admin('/upstreams', { headers: { 'if-none-match': configTag } })
  assert.equal(upstreams.status, 200)
  assert.equal(upstreams.json<{ upstreams: { name: string }[] }>().upstreams[0]?.name, 'app')
  const upstreamsTag = etagOf(upstreams)
  assert.notEqual(upstreamsTag, configTag)
  // A target taken out of rotation changes the reply, hence the tag.
  const disabled = await gw.admin(`/upstreams/app/targets/${encodeURIComponent(blue.address)}/disable`, { method: 'POST' })
  assert.equal(disabled.status, 200, disabled.text)
  const changed = await gw.admin('/upstreams', { headers: { 'if-none-match': upstreamsTag } })
  assert.equal(changed.status, 200)
  assert.notEqual(etagOf(changed), upstreamsTag)
})

test('HEAD /config has GET\'s ETag and gets 304 for it', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const etag = etagOf(await gw.admin('/config'))
  const head = await gw.admin('/config', { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers.etag, etag)
  const notModified = await gw.admin('/config', { method: 'HEAD', headers: { 'if-none-match': etag } })
  assert.equal(notModified.status, 304)
  assert.equal(notModified.headers.etag, etag)
  assert.equal(notModified.headers['cache-control'], 'no-cache')
})

test('a POST and an error never get an ETag, nor a 304', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const etag = etagOf(await gw.admin('/config'))
  const config = whole(gw, blue.address)
  for (const ifNoneMatch of [undefined, etag, '*']) {
    const headers: Record<string, string> = ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch }
    const validated = await gw.admin('/config/validate', { json: config, headers })
    assert.equal(validated.status, 200, validated.text)
    assert.deepEqual(validated.json(), { valid: true })
    assert.equal(validated.headers.etag, undefined)
  }
  const purge = await gw.admin('/cache/purge', { json: { url: '/x' } })
  assert.equal(purge.status, 200, purge.text)
  assert.equal(purge.headers.etag, undefined)

  const missing = await gw.admin('/nowhere', { headers: { 'if-none-match': '*' } })
  assert.equal(missing.status, 404)
  assert.equal(missing.headers.etag, undefined)
  assert.equal(missing.headers['cache-control'], 'no-store')
  const refused = await gw.admin('/config', { token: 'wrong', headers: { 'if-none-match': etag } })
  assert.equal(refused.status, 401, 'a tag is no way around the token')
  assert.equal(refused.headers.etag, undefined)
})
