import { test } from 'node:test'
import assert from 'node:assert/strict'
import { normalizePath } from '../../../src/routing/path.js'
import { RouteTable, compilePathPattern } from '../../../src/routing/matcher.js'
import { compilePathRewrite, compileQueryRewrite } from '../../../src/routing/rewrite.js'
import { compileHeaderRules, withoutHopByHop, type HeaderMap } from '../../../src/routing/header-rules.js'

test('normalizePath resolves dot segments, %2e%2e and duplicate slashes', () => {
  assert.equal(normalizePath('/public/%2e%2e/admin'), '/admin')
  assert.equal(normalizePath('/public/%2E%2e/admin'), '/admin')
  assert.equal(normalizePath('//a///b'), '/a/b')
  assert.equal(normalizePath('/a/./b/../c'), '/a/c')
  assert.equal(normalizePath('/../x'), '/x')
  assert.equal(normalizePath('/a/b/'), '/a/b/')
  assert.equal(normalizePath('/a/..'), '/')
})

test('normalizePath returns plain paths unchanged, the very same string', () => {
  const plain = '/users/42'
  assert.equal(normalizePath(plain), plain)
  assert.equal(normalizePath('/file...name'), '/file...name')
})

test('normalizePath decodes escapes of unreserved characters (RFC 3986 §6.2.2.2)', () => {
  assert.equal(normalizePath('/%61dmin/users'), '/admin/users')
  assert.equal(normalizePath('/%41%5a%7e%2D%5F%2e'), '/AZ~-_.')
  assert.equal(normalizePath('/x/%2E%2E/admin'), '/admin', 'decoded dots are resolved as dot segments')
})

test('normalizePath keeps reserved and non-UTF-8 escapes encoded, hex upper-cased', () => {
  assert.equal(normalizePath('/a%20b/%c3%a9'), '/a%20b/%C3%A9')
  assert.equal(normalizePath('/caf%e9'), '/caf%E9')
  assert.equal(normalizePath('/files/dir%2ffile.txt'), '/files/dir%2Ffile.txt', '%2F is data, not a separator')
  assert.equal(normalizePath('/q%3Fx%23y'), '/q%3Fx%23y')
  assert.equal(normalizePath('/a/...b'), '/a/...b')
  assert.equal(normalizePath('/a/..foo'), '/a/..foo')
  assert.equal(normalizePath('/a/.b/'), '/a/.b/')
})

test('normalizePath refuses malformed escapes, backslashes, NUL and dot segments hidden behind %2F', () => {
  for (const bad of ['/a%zz', '/a%4', '/a%5Cb', '/a%5cb', '/a\\b', '/a%00', 'relative', '',
    '/public/..%2F..%2Fadmin', '/public/%2e%2e%2fadmin', '/a/b%2F..', '/a/.%2Fb']) {
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

test('a match carries the target as routed: normalised path, raw query; the same string when unchanged', () => {
  const table = new RouteTable([{ spec: { path: '/admin/*' }, route: 'admin' }])
  const url = '/admin/x?q=%61'
  const plain = table.match('GET', 'x', url, {})
  assert.ok(plain !== null && plain !== 'bad-path', 'a plain path did not match')
  assert.equal(plain.url, url)
  const encoded = table.match('GET', 'x', '/%61dmin//x?q=%61', {})
  assert.ok(encoded !== null && encoded !== 'bad-path', 'an encoded path did not match')
  assert.equal(encoded.route, 'admin')
  assert.equal(encoded.url, '/admin/x?q=%61', 'the query is left as it was')
})

test('a host route matches whatever the case, port or one trailing dot of the Host', () => {
  const table = new RouteTable([{ spec: { host: 'admin.example.com' }, route: 'admin' }, { spec: {}, route: 'rest' }])
  for (const host of ['admin.example.com', 'ADMIN.Example.com', 'admin.example.com.', 'admin.example.com:80', 'admin.example.com.:8080']) {
    const m = table.match('GET', host, '/', {})
    assert.ok(m !== null && m !== 'bad-path', `${host} matched nothing`)
    assert.equal(m.route, 'admin', host)
  }
  const twoDots = table.match('GET', 'admin.example.com..', '/', {})
  assert.ok(twoDots !== null && twoDots !== 'bad-path' && twoDots.route === 'rest', 'two trailing dots are not the same name')
})

test('TRACE matches only a route that lists it in methods', () => {
  const open = new RouteTable([{ spec: {}, route: 'any' }])
  assert.equal(open.match('TRACE', 'x', '/', {}), null)
  assert.ok(open.match('SEARCH', 'x', '/', {}) !== null)
  const allowed = new RouteTable([{ spec: { methods: ['TRACE'] }, route: 'trace' }])
  assert.ok(allowed.match('TRACE', 'x', '/', {}) !== null)
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
  const rules = compileHeaderRules({ copy: { Date: 'x-legacy-date' }, remove: ['X-App-Version'], set: { 'X-Content-Type-Options': 'nosniff' } })
  assert.ok(rules !== null, 'header rules compiled to nothing')
  const headers: HeaderMap = { date: 'd', 'x-app-version': '1' }
  rules.apply(headers)
  assert.deepEqual(headers, { date: 'd', 'x-legacy-date': 'd', 'x-content-type-options': 'nosniff' })
  assert.equal(compileHeaderRules({}), null)
})

test('withoutHopByHop returns a copy without hop-by-hop headers, or the same object when none', () => {
  const clean: HeaderMap = { 'content-type': 'text/plain', 'content-length': '3' }
  assert.equal(withoutHopByHop(clean), clean)
  const upstream: HeaderMap = { connection: 'keep-alive, x-private', 'keep-alive': 'timeout=5', 'x-private': '1', te: 'trailers', 'set-cookie': ['a=1', 'b=2'], date: 'd' }
  const kept = withoutHopByHop(upstream)
  assert.deepEqual(kept, { te: 'trailers', 'set-cookie': ['a=1', 'b=2'], date: 'd' })
  assert.equal(upstream['keep-alive'], 'timeout=5', 'the original is left untouched')
})
