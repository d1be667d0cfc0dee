import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { issuesOf } from '../../helpers/config.js'

const upstreams = { a: { targets: ['127.0.0.1:1'], timeouts: { idle: '90s' } } }

test('websocket: true compiles, and its idle timeout is the upstream\'s timeouts.idle unless the route sets one', () => {
  const { compiled } = loadConfigObject({
    upstreams,
    routes: [
      { name: 'inherits', upstream: 'a', websocket: true },
      { name: 'own', upstream: 'a', websocket: true, timeouts: { idle: '10m' } },
      { name: 'plain', upstream: 'a' }
    ]
  })
  assert.deepEqual(compiled.routes.map(r => [r.name, r.websocket, r.timeouts.idleMs]), [
    ['inherits', true, 90_000],
    ['own', true, 600_000],
    ['plain', false, 90_000]
  ])
})

test('websocket must be a boolean and timeouts.idle a duration', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams, routes: [{ name: 'r', upstream: 'a', websocket: 'yes', timeouts: { idle: 'soon' } }] }))
  assert.equal(issues.length, 2, issues.join('\n'))
  assert.ok(issues.some(i => i.startsWith('routes[0].websocket: ')), issues.join('\n'))
  assert.ok(issues.some(i => i.startsWith('routes[0].timeouts.idle: ')), issues.join('\n'))
})

test('websocket: true on a route whose match.methods leaves out GET is refused', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams, routes: [{ name: 'r', upstream: 'a', websocket: true, match: { methods: ['POST'] } }] }))
  assert.deepEqual(issues, ['routes[0].websocket: a WebSocket upgrade is a GET request, which match.methods leaves out'])
})

test('websocket: true on an upstream reached through proxy.url is refused; the same upstream serves plain routes', () => {
  const proxied = { a: { targets: ['127.0.0.1:1'], proxy: { url: 'http://127.0.0.1:3128' } } }
  const issues = issuesOf(() => loadConfigObject({ upstreams: proxied, routes: [{ name: 'r', upstream: 'a', websocket: true }] }))
  assert.deepEqual(issues, ['routes[0].websocket: upstream "a" is reached through proxy.url, which WebSocket routes do not support'])
  const { compiled } = loadConfigObject({ upstreams: proxied, routes: [{ name: 'r', upstream: 'a' }] })
  assert.equal(compiled.routes[0]?.websocket, false)
})
