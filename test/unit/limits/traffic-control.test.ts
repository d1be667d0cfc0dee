import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IpFilter, REMEMBERED_ADDRESSES } from '../../../src/limits/ip-filter.js'
import { ConcurrencyLimiter } from '../../../src/limits/concurrency.js'
import { BodyInspector } from '../../../src/limits/inspect.js'
import { compileInspect, compileIpFilter, parseLimitKey } from '../../../src/limits/config.js'
import { IssueList } from '../../../src/config/errors.js'
import { plainAddress } from '../../../src/context.js'

function filter (allow: string[] | undefined, deny: string[] | undefined): IpFilter {
  const issues = new IssueList()
  const compiled = compileIpFilter({ ...(allow === undefined ? {} : { allow }), ...(deny === undefined ? {} : { deny }) }, 'ipFilter', issues)
  assert.deepEqual(issues.items, [])
  return new IpFilter(compiled)
}

test('an IP filter allows what its allow list holds, refuses what its deny list holds; deny wins', () => {
  const f = filter(['10.0.0.0/8', '2001:db8::/32'], ['10.0.0.66/32'])
  assert.equal(f.allows('10.1.2.3'), true)
  assert.equal(f.allows('10.0.0.66'), false)
  assert.equal(f.allows('192.168.1.1'), false)
  assert.equal(f.allows('2001:db8::1'), true)
  assert.equal(f.allows('::1'), false)
  assert.equal(f.allows('::ffff:10.1.2.3'), true, 'an IPv4-mapped address is its IPv4 address')
  const denyOnly = filter(undefined, ['127.0.0.3'])
  assert.equal(denyOnly.allows('127.0.0.2'), true)
  assert.equal(denyOnly.allows('127.0.0.3'), false)
  assert.equal(denyOnly.allows('not an address'), false, 'a peer without an address passes only an open filter')
})

test('an IP filter remembers answers for a bounded number of addresses, and a remembered answer is the same answer', () => {
  const f = filter(['10.0.0.0/16'], ['10.0.0.66/32'])
  for (let round = 0; round < 2; round++) {
    assert.equal(f.allows('10.0.0.66'), false)
    assert.equal(f.allows('10.0.1.1'), true)
    assert.equal(f.allows('10.1.0.1'), false)
  }
  // A client cycling through addresses: answers stay right, memory stays bounded.
  for (let n = 0; n < REMEMBERED_ADDRESSES * 2 + 10; n++) {
    const address = `10.${n >> 16 & 255}.${n >> 8 & 255}.${n & 255}`
    assert.equal(f.allows(address), n < 65_536 && address !== '10.0.0.66', address)
    assert.ok(f.remembered <= REMEMBERED_ADDRESSES)
  }
  assert.equal(f.allows('10.0.0.66'), false)
})

test('bad CIDRs are refused with their path', () => {
  const issues = new IssueList()
  compileIpFilter({ allow: ['10.0.0.0/40', 'nope'] }, 'routes[0].ipFilter', issues)
  assert.deepEqual(issues.items.map(i => i.path), ['routes[0].ipFilter.allow[0]', 'routes[0].ipFilter.allow[1]'])
})

test('the client address has one spelling: IPv4-mapped IPv6 is given as IPv4', () => {
  assert.equal(plainAddress('::ffff:127.0.0.2'), '127.0.0.2')
  assert.equal(plainAddress('::1'), '::1')
  assert.equal(plainAddress('::ffff:abcd'), '::ffff:abcd')
  assert.equal(plainAddress('203.0.113.7'), '203.0.113.7')
})

test('a concurrency limiter admits limit per key, and a key is forgotten at 0', () => {
  const limiter = new ConcurrencyLimiter(2)
  assert.equal(limiter.tryAcquire('a'), true)
  assert.equal(limiter.tryAcquire('a'), true)
  assert.equal(limiter.tryAcquire('a'), false)
  assert.equal(limiter.tryAcquire('b'), true)
  limiter.release('a')
  assert.equal(limiter.tryAcquire('a'), true)
  limiter.release('a')
  limiter.release('a')
  limiter.release('a')
  assert.equal(limiter.count('a'), 0)
  assert.equal(limiter.tryAcquire('a'), true)
  assert.equal(limiter.tryAcquire('a'), true)
  assert.equal(limiter.tryAcquire('a'), false, 'extra releases must not add slots')
})

test('body inspection finds substrings and regexes; a slow regex is refused at load', () => {
  const issues = new IssueList()
  const inspector = new BodyInspector(compileInspect({ block: ['rogue', '/union\\s+select/i'] }, 'inspect', issues))
  assert.deepEqual(issues.items, [])
  assert.equal(inspector.blocks(Buffer.from('a rogue b')), true)
  assert.equal(inspector.blocks(Buffer.from('x UNION \t SELECT y')), true)
  assert.equal(inspector.blocks(Buffer.from('clean')), false)
  const refused = new IssueList()
  compileInspect({ block: ['/([a-z]+-?)*$/', '/(/', '/x/g'] }, 'routes[0].inspect', refused)
  assert.deepEqual(refused.items.map(i => i.path), ['routes[0].inspect.block[0]', 'routes[0].inspect.block[1]', 'routes[0].inspect.block[2]'])
})

test('limit keys parse to where their value comes from', () => {
  assert.deepEqual(parseLimitKey('ip'), { from: 'ip' })
  assert.deepEqual(parseLimitKey('header:X-Api-Key'), { from: 'header', name: 'x-api-key' })
  assert.deepEqual(parseLimitKey('claim:sub'), { from: 'claim', name: 'sub' })
  assert.throws(() => parseLimitKey('cookie:x'))
})
