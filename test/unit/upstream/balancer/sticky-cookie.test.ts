import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Target } from '../../../../src/upstream/target.js'
import type { BalancerInput } from '../../../../src/upstream/balancer/index.js'
import { StickyCookie, stickyToken } from '../../../../src/upstream/balancer/sticky-cookie.js'
import { drain, firsts, input, target } from './fixtures.js'

const HOUR = 3_600_000

function first (sticky: StickyCookie, request: BalancerInput): Target | undefined {
  const r = sticky.pick(request).next()
  return r.done === true ? undefined : r.value
}

/** The Set-Cookie values `onResponse` sets for a response from `from`. */
function cookiesSet (sticky: StickyCookie, request: BalancerInput, from: Target): string[] {
  const set: string[] = []
  sticky.onResponse(request, from, (name, value) => {
    assert.equal(name, 'set-cookie')
    set.push(value)
  })
  return set
}

/** The `name=value` part of a Set-Cookie value, as a client would send it back. */
function sentBack (setCookie: string | undefined): string {
  assert.ok(setCookie !== undefined, 'no cookie was set')
  return setCookie.slice(0, setCookie.indexOf(';'))
}

test('the first response sets the cookie with its token, path, max-age and flags', () => {
  const [a, b] = [target(1), target(2)]
  const sticky = new StickyCookie([a, b], 'tg', HOUR)
  const chosen = first(sticky, input())!
  assert.deepEqual(cookiesSet(sticky, input(), chosen), [`tg=${stickyToken(chosen)}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax`])
})

test('a request carrying the cookie goes to the same target on any path and gets no new cookie', () => {
  const targets = [target(1), target(2), target(3)]
  const sticky = new StickyCookie(targets, 'tg', HOUR)
  for (const pinned of targets) {
    const cookie = sentBack(cookiesSet(sticky, input(), pinned)[0])
    for (let i = 0; i < 10; i++) {
      const request = input({ path: `/page/${i}`, ip: `10.0.0.${i}`, headers: { cookie: `a=1; ${cookie}; b=2` } })
      assert.equal(first(sticky, request), pinned)
      assert.deepEqual(cookiesSet(sticky, request, pinned), [])
    }
  }
})

test('a cookie naming a disabled target gets a new target and a re-issued cookie', () => {
  const [a, b] = [target(1), target(2)]
  const sticky = new StickyCookie([a, b], 'tg', HOUR)
  const request = input({ headers: { cookie: `tg=${stickyToken(a)}` } })
  assert.equal(first(sticky, request), a)
  a.enabled = false
  const moved = first(sticky, request)
  assert.equal(moved, b)
  assert.equal(sentBack(cookiesSet(sticky, request, b)[0]), `tg=${stickyToken(b)}`)
})

test('a cookie naming an unhealthy target moves on, and returns once it is healthy', () => {
  const [a, b] = [target(1), target(2)]
  const sticky = new StickyCookie([a, b], 'tg', HOUR)
  const request = input({ headers: { cookie: `tg=${stickyToken(a)}` } })
  a.healthy = false
  assert.equal(first(sticky, request), b)
  a.healthy = true
  assert.equal(first(sticky, request), a)
})

test('requests without the cookie are spread by round robin', () => {
  const [a, b] = [target(1), target(2)]
  assert.deepEqual(firsts(new StickyCookie([a, b], 'tg', HOUR), 4), [a, b, a, b])
})

test('an unknown cookie value falls back to round robin and gets a cookie', () => {
  const [a, b] = [target(1), target(2)]
  const sticky = new StickyCookie([a, b], 'tg', HOUR)
  const request = input({ headers: { cookie: 'tg=nosuchtarget' } })
  const chosen = first(sticky, request)!
  assert.equal(sentBack(cookiesSet(sticky, request, chosen)[0]), `tg=${stickyToken(chosen)}`)
})

test('a cookie of another name is not read as the sticky cookie', () => {
  const [a, b] = [target(1), target(2)]
  const sticky = new StickyCookie([a, b], 'tg', HOUR)
  const request = input({ headers: { cookie: `xtg=${stickyToken(b)}` } })
  assert.deepEqual(firsts(sticky, 2, request), [a, b])
})

test('fallbacks after the pinned target come from the rotation, without repeating it', () => {
  const targets = [target(1), target(2), target(3)]
  const sticky = new StickyCookie(targets, 'tg', HOUR)
  const order = drain(sticky.pick(input({ headers: { cookie: `tg=${stickyToken(targets[1]!)}` } })))
  assert.equal(order[0], targets[1])
  assert.equal(order.length, 3)
  assert.equal(new Set(order).size, 3)
})

test('backups are used only when no primary is available, and are never pinned', () => {
  const [p, backup] = [target(1), target(9, 1, true)]
  const sticky = new StickyCookie([p, backup], 'tg', HOUR)
  assert.deepEqual(drain(sticky.pick(input({ headers: { cookie: `tg=${stickyToken(backup)}` } }))), [p, backup])
  p.enabled = false
  assert.equal(first(sticky, input()), backup)
  assert.deepEqual(cookiesSet(sticky, input(), backup), [])
})

test('nothing is yielded when nothing is available, even with a cookie', () => {
  const [p, backup] = [target(1), target(9, 1, true)]
  const sticky = new StickyCookie([p, backup], 'tg', HOUR)
  p.healthy = false
  backup.healthy = false
  assert.deepEqual(drain(sticky.pick(input({ headers: { cookie: `tg=${stickyToken(p)}` } }))), [])
})

test('tokens are the same for the same target id in another balancer, and hide the address', () => {
  assert.equal(stickyToken(target(3001)), stickyToken(target(3001)))
  assert.notEqual(stickyToken(target(3001)), stickyToken(target(3002)))
  assert.match(stickyToken(target(3001)), /^[0-9a-z]{1,7}$/)
  assert.ok(!stickyToken(target(3001)).includes('3001'), 'the token shows the target\'s port')
  const request = input({ headers: { cookie: `tg=${stickyToken(target(3002))}` } })
  const elsewhere = [target(3001), target(3002)]
  assert.equal(first(new StickyCookie(elsewhere, 'tg', HOUR), request), elsewhere[1])
})

test('max-age is the ttl in whole seconds', () => {
  const a = target(1)
  const sticky = new StickyCookie([a], 's', 90_500)
  assert.match(cookiesSet(sticky, input(), a)[0] ?? '', /; Max-Age=90;/)
})
