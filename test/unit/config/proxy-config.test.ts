// An upstream's `proxy.url`: what is accepted, and how each refusal reads (`path: message`,
// never with the URL's credentials in it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigObject } from '../../../src/config/load.js'
import { issuesOf } from '../../helpers/config.js'
import { runCli } from '../../helpers/cli.js'
import { tempFolder } from '../../helpers/files.js'

const withProxy = (proxy: unknown, targets: unknown[] = ['127.0.0.1:3001']): Record<string, unknown> => ({
  upstreams: { a: { targets, proxy } },
  routes: [{ name: 'r', upstream: 'a' }]
})

test('an http:// proxy URL compiles to its host, port and no credentials', () => {
  const { compiled } = loadConfigObject(withProxy({ url: 'http://127.0.0.1:3128' }))
  assert.deepEqual(compiled.upstreams.get('a')?.proxy, { host: '127.0.0.1', port: 3128, id: '127.0.0.1:3128', authorization: null })
})

test('a proxy URL without a port uses 80, and an IPv6 proxy is named in brackets', () => {
  const { compiled } = loadConfigObject(withProxy({ url: 'http://[::1]/' }))
  assert.deepEqual(compiled.upstreams.get('a')?.proxy, { host: '::1', port: 80, id: '[::1]:80', authorization: null })
})

test('user and password in the URL become Basic credentials, %-escapes decoded', () => {
  const { compiled } = loadConfigObject(withProxy({ url: 'http://gw%20user:p%40ss%3Aword@proxy.internal:3128' }))
  const proxy = compiled.upstreams.get('a')?.proxy
  assert.equal(proxy?.authorization, `Basic ${Buffer.from('gw user:p@ss:word').toString('base64')}`)
  assert.equal(proxy?.id, 'proxy.internal:3128')
})

test('an https:// proxy is refused: only http:// proxies are supported', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'https://127.0.0.1:3128' }))), [
    'upstreams.a.proxy.url: https:// proxies are not supported: the gateway speaks plain HTTP to the proxy (write http://host:port); TLS to the target runs inside the tunnel'
  ])
})

test('a URL of another scheme, with a path, or no URL at all, is refused at its path', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'socks5://127.0.0.1:1080' }))), ['upstreams.a.proxy.url: must be an http:// URL, not socks5://'])
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'http://127.0.0.1:3128/path?q' }))), ['upstreams.a.proxy.url: must be http://host:port, without a path, query or fragment'])
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'localhost:3128' }))), ['upstreams.a.proxy.url: is not a URL (write http://host:port)'])
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'not a url' }))), ['upstreams.a.proxy.url: is not a URL (write http://host:port)'])
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({}))), ['upstreams.a.proxy.url: is required'])
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'http://127.0.0.1:3128', port: 3 }))), ['upstreams.a.proxy.port: unknown key'])
})

test('a proxy in front of a Unix socket target is refused', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'http://127.0.0.1:3128' }, [{ socketPath: '/tmp/app.sock' }]))), [
    'upstreams.a.proxy: cannot reach unix:/tmp/app.sock: a Unix socket target is never behind a proxy'
  ])
})

test('a user name with a colon (as a %-escape) cannot be sent as Basic credentials: refused', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject(withProxy({ url: 'http://a%3Ab:pw@127.0.0.1:3128' }))), [
    'upstreams.a.proxy.url: has a user name with a colon, which Basic credentials cannot carry'
  ])
})

test('tollgate validate refuses a bad proxy URL without printing its password', (t) => {
  const dir = tempFolder(t, 'tollgate-proxy-config-')
  writeFileSync(join(dir, 'g.yaml'), 'upstreams: { a: { targets: ["127.0.0.1:1"], proxy: { url: "https://gw:hunter2-secret@127.0.0.1:3128" } } }\nroutes: [{ name: r, upstream: a }]\n')
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.match(result.stdout + result.stderr, /upstreams\.a\.proxy\.url: https:\/\/ proxies are not supported/)
  assert.equal((result.stdout + result.stderr).includes('hunter2-secret'), false)
})
