import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingHttpHeaders } from 'node:http'
import { UpstreamHeaders, asksForTrailers } from '../../../src/proxy/upstream-headers.js'
import { compileHeaderRules } from '../../../src/routing/header-rules.js'
import { compileTrust } from '../../../src/net/trust.js'

const untrusted = { rules: null, hostOverride: null, trust: compileTrust(false), underscores: false }

function build (headers: IncomingHttpHeaders, options: Partial<ConstructorParameters<typeof UpstreamHeaders>[0]> = {}, peer = '203.0.113.7'): Record<string, unknown> {
  return new UpstreamHeaders({ ...untrusted, ...options }).build({ headers, peer, tls: false, requestId: 'rid-1' })
}

test('the gateway\'s headers come first, before every header of the client', () => {
  const junk: IncomingHttpHeaders = {}
  for (let i = 0; i < 50; i++) junk[`x-junk-${i}`] = 'j'
  const rules = compileHeaderRules({ set: { 'x-proxy': 'tollgate' } })
  const names = Object.keys(build({ ...junk, host: 'shop.example' }, { rules }))
  assert.deepEqual(names.slice(0, 6), ['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'x-proxy'])
  assert.equal(names.length, 56)
})

test('an untrusted peer\'s forwarding headers are all replaced or dropped', () => {
  const sent = build({
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-forwarded-prefix': '/admin',
    forwarded: 'for=6.6.6.6;host=evil.example',
    'x-real-ip': '6.6.6.6'
  })
  assert.equal(sent['x-forwarded-for'], '203.0.113.7')
  assert.equal(sent['x-forwarded-proto'], 'http')
  assert.equal(sent['x-forwarded-host'], undefined, 'no Host (HTTP/1.0): no X-Forwarded-Host, and never the client\'s')
  for (const name of ['x-forwarded-port', 'x-forwarded-prefix', 'forwarded', 'x-real-ip']) assert.equal(sent[name], undefined, name)
})

test('a trusted proxy\'s forwarding headers are extended or kept', () => {
  const sent = build({
    host: 'edge.example',
    'x-forwarded-for': '198.51.100.1',
    'x-forwarded-host': 'public.example',
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-real-ip': '198.51.100.1'
  }, { trust: compileTrust(['10.0.0.0/8']) }, '10.1.2.3')
  assert.equal(sent['x-forwarded-for'], '198.51.100.1, 10.1.2.3')
  assert.equal(sent['x-forwarded-host'], 'public.example')
  assert.equal(sent['x-forwarded-proto'], 'https')
  assert.equal(sent['x-forwarded-port'], '443')
  assert.equal(sent['x-real-ip'], '198.51.100.1')
})

test('header names with underscores are dropped unless allowed', () => {
  const headers = { x_forwarded_for: '6.6.6.6', 'x_custom': '1', 'x-plain': '2' }
  const dropped = build(headers)
  assert.equal(dropped.x_forwarded_for, undefined)
  assert.equal(dropped.x_custom, undefined)
  assert.equal(dropped['x-plain'], '2')
  const allowed = build(headers, { underscores: true })
  assert.equal(allowed.x_custom, '1')
})

test('hop-by-hop headers, those Connection names, Expect, and the client\'s request id stay behind', () => {
  const sent = build({
    connection: 'keep-alive, x-private',
    'x-private': '1',
    'keep-alive': '300',
    'proxy-authorization': 'Basic Zm9v',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    expect: '100-continue',
    te: 'gzip',
    'x-request-id': 'from-client',
    accept: '*/*'
  })
  for (const name of ['connection', 'x-private', 'keep-alive', 'proxy-authorization', 'transfer-encoding', 'upgrade', 'expect', 'te']) {
    assert.equal(sent[name], undefined, name)
  }
  assert.equal(sent['x-request-id'], 'rid-1')
  assert.equal(sent.accept, '*/*')
})

test('TE: trailers is passed on, alone, when the client lists it', () => {
  assert.equal(build({ te: 'trailers, deflate;q=0.5' }).te, 'trailers')
  assert.equal(build({ te: 'deflate' }).te, undefined)
  assert.equal(asksForTrailers('gzip, Trailers ;q=1'), true)
  assert.equal(asksForTrailers('gzip'), false)
  assert.equal(asksForTrailers(undefined), false)
})

test('route rules: set overrides the gateway\'s and the client\'s, remove applies to both, copy reads the client', () => {
  const rules = compileHeaderRules({
    set: { host: 'internal.example', 'x-forwarded-proto': 'https' },
    remove: ['user-agent', 'x-forwarded-for'],
    copy: { 'x-tenant': 'x-tenant-copy' }
  })
  const sent = build({ host: 'public.example', 'user-agent': 'curl', 'x-tenant': 't1' }, { rules })
  assert.equal(sent.host, 'internal.example')
  assert.equal(sent['x-forwarded-proto'], 'https')
  assert.equal(sent['x-forwarded-host'], 'public.example')
  assert.equal(sent['user-agent'], undefined)
  assert.equal(sent['x-forwarded-for'], undefined)
  assert.equal(sent['x-tenant-copy'], 't1')
  assert.equal(sent['x-tenant'], 't1')
})

test('Host is the upstream\'s servername when it has one, and the client\'s otherwise', () => {
  assert.equal(build({ host: 'public.example' }, { hostOverride: 'api.internal' }).host, 'api.internal')
  assert.equal(build({ host: 'public.example' }).host, 'public.example')
})
