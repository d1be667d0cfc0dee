import { test } from 'node:test'
import assert from 'node:assert/strict'
import { normalizePath } from '../../../src/routing/path.js'
import { RouteTable, compilePathPattern } from '../../../src/routing/matcher.js'
import { compilePathRewrite, compileQueryRewrite } from '../../../src/routing/rewrite.js'
import { compileHeaderRules, stripHopByHop, withoutHopByHop, type HeaderMap } from '../../../src/routing/header-rules.js'

test('normalizePath resolves dot segments, %2e%2e and duplicate slashes', () => {
  assert.equal(normalizePath('/public/%2e%2e/admin'), '/admin')
  assert.equal(normalizePath('/public/%2E%2e/admin'), '/admin')
  assert.equal(normalizePath('//a///b'), '/a/b')
  assert.equal(normalizePath('/a/./b/../c'), '/a/c')
  assert.equal(normalizePath('/../x'), '/x')
  assert.equal(normalizePath('/a/b/'), '/a/b/')
  assert.equal(normalizePath('/a/..'), '/')
})

test('normalizePath keeps other escapes as they are and returns plain paths unchanged', () => {
  const plain = '/users/42'
  assert.equal(normalizePath(plain), plain)
  assert.equal(normalizePath('/a%20b/%C3%A9'), '/a%20b/%C3%A9')
  assert.equal(normalizePath('/file...name'), '/file...name')
})

test('normalizePath refuses malformed escapes, encoded separators, backslashes and NUL', () => {
  for (const bad of ['/a%zz', '/a%4', '/a%2fb', '/a%5Cb', '/a\\b', '/a%00', 'relative', '']) {
    assert.equal(normalizePath(bad), null, bad)
  }
})

test('path patterns: exact, prefix, regex, any; bad ones are refused with a reason', () => {
  assert.deepEqual(compilePathPattern('/x'), { kind: 'exact', path: '/x' })
  assert.deepEqual(compilePathPattern('/x/*'), { kind: 'prefix', prefix: '/x', prefixSlash: '/x/' })
  assert.deepEqual(compilePathPattern('/*'), { kind: 'any' })
  assert.deepEqual(compilePathPattern(undefined), { kind: 'any' })
  assert.equal(compilePathPattern('~ ^/x/(\\d+)$').kind, 'regex')
  assert.throws(() => compilePathPattern('~ ^/(x'), /invalid regex/)
  assert.throws(() => compilePathPattern('x'), /must start with "\/"/)
  assert.throws(() => compilePathPattern('/a/*/b'), /only allowed at the end/)
})

test('the route table returns the first match and the prefix rest', () => {
  const table = new RouteTable([
    { spec: { path: '/api/*', methods: ['GET'] }, route: 'get-api' },
    { spec: { path: '/api/*' }, route: 'api' },
    { spec: { host: '*.example.com' }, route: 'wild' },
    { spec: { path: '~ ^/items/(?<id>\\d+)$' }, route: 'item' }
  ])
  const m = table.match('GET', 'x', '/api/v1/users?q=1', {})
  assert.ok(m !== null && m !== 'bad-path', `GET /api/v1/users matched ${String(m)}`)
  assert.equal(m.route, 'get-api')
  assert.equal(m.rest, 'v1/users')
  assert.equal(m.query, 'q=1')
  const post = table.match('POST', 'x', '/api', {})
  assert.ok(post !== null && post !== 'bad-path', `POST /api matched ${String(post)}`)
  assert.equal(post.route, 'api')
  assert.equal(post.rest, '')
  assert.equal(table.match('GET', 'x', '/apix', {}), null)
  const wild = table.match('GET', 'Shop.Example.com:8443', '/', {})
  assert.ok(wild !== null && wild !== 'bad-path' && wild.route === 'wild', 'Shop.Example.com:8443 did not match *.example.com')
  assert.equal(table.match('GET', 'example.com', '/', {}), null)
  const item = table.match('GET', 'x', '/items/7', {})
  assert.ok(item !== null && item !== 'bad-path', `/items/7 matched ${String(item)}`)
  assert.deepEqual(item.captures, ['7'])
  assert.deepEqual(item.named, { id: '7' })
  assert.equal(table.match('GET', 'x', '/a%zz', {}), 'bad-path')
})

test('host matching handles IPv6 literals and header conditions match exact values', () => {
  const table = new RouteTable([
    { spec: { host: '::1', headers: { 'X-Version': 'v2' } }, route: 'v6' }
  ])
  assert.ok(table.match('GET', '[::1]:8080', '/', { 'x-version': 'v2' }) !== null, '[::1]:8080 with x-version v2 matched nothing')
  assert.equal(table.match('GET', '[::1]:8080', '/', { 'x-version': 'v3' }), null)
  assert.equal(table.match('GET', '[::1]:8080', '/', {}), null)
})

test('stripPrefix cuts at a segment boundary and never leaves an empty path', () => {
  const strip = compilePathRewrite({ stripPrefix: '/users' })
  const m = (path: string) => ({ path, rest: '', captures: null, named: null })
  assert.equal(strip(m('/users/42')), '/42')
  assert.equal(strip(m('/users')), '/')
  assert.equal(strip(m('/usersx')), '/usersx')
})

test('path templates fill {rest}, numbered and named groups; unknown placeholders are refused', () => {
  const rewrite = compilePathRewrite({ path: '/v2/{rest}/{1}/{id}', stripPrefix: '/ignored' })
  assert.equal(rewrite({ path: '/x', rest: 'a/b', captures: ['c'], named: { id: '9' } }), '/v2/a/b/c/9')
  assert.equal(compilePathRewrite({ path: 'no-slash' })({ path: '/', rest: '', captures: null, named: null }), '/no-slash')
  assert.throws(() => compilePathRewrite({ path: '/{bad-name}' }), /unknown placeholder/)
})

test('query rules remove (with globs) and set, keeping other parameters as they were', () => {
  const rewrite = compileQueryRewrite({ remove: ['debug', 'utm_*'], set: { ref: 'tollgate', sort: 'desc' } })
  assert.ok(rewrite !== null, 'query rules compiled to nothing')
  assert.equal(rewrite('q=rust&debug=true&sort=asc&utm_source=x'), 'q=rust&sort=desc&ref=tollgate')
  assert.equal(rewrite(''), 'ref=tollgate&sort=desc')
  assert.equal(rewrite('a=%20b&a=2'), 'a=%20b&a=2&ref=tollgate&sort=desc')
  assert.equal(compileQueryRewrite({}), null)
})

test('header rules copy from the incoming values, then remove, then set', () => {
  const apply = compileHeaderRules({ copy: { Date: 'x-legacy-date' }, remove: ['X-App-Version'], set: { 'X-Content-Type-Options': 'nosniff' } })
  assert.ok(apply !== null, 'header rules compiled to nothing')
  const headers: HeaderMap = { date: 'd', 'x-app-version': '1' }
  apply(headers)
  assert.deepEqual(headers, { date: 'd', 'x-legacy-date': 'd', 'x-content-type-options': 'nosniff' })
  assert.equal(compileHeaderRules({}), null)
})

test('hop-by-hop headers go, including those named by Connection; te: trailers stays', () => {
  const headers: HeaderMap = { connection: 'close, x-private', 'x-private': '1', 'keep-alive': 'x', te: 'trailers', upgrade: 'h2c', 'proxy-authorization': 'p', 'transfer-encoding': 'chunked', kept: 'yes' }
  stripHopByHop(headers)
  assert.deepEqual(headers, { te: 'trailers', kept: 'yes' })
  const gzip: HeaderMap = { te: 'gzip' }
  stripHopByHop(gzip)
  assert.deepEqual(gzip, {})
})

test('withoutHopByHop returns a copy without hop-by-hop headers, or the same object when none', () => {
  const clean: HeaderMap = { 'content-type': 'text/plain', 'content-length': '3' }
  assert.equal(withoutHopByHop(clean), clean)
  const upstream: HeaderMap = { connection: 'keep-alive, x-private', 'keep-alive': 'timeout=5', 'x-private': '1', te: 'trailers', 'set-cookie': ['a=1', 'b=2'], date: 'd' }
  const kept = withoutHopByHop(upstream)
  assert.deepEqual(kept, { te: 'trailers', 'set-cookie': ['a=1', 'b=2'], date: 'd' })
  assert.equal(upstream['keep-alive'], 'timeout=5', 'the original is left untouched')
})
