import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { issuesOf } from '../../helpers/config.js'
import { makePki } from '../../helpers/certs.js'

const ROUTES = [{ name: 'r', upstream: 'a' }]

test('protocol: h2 without tls is refused: h2 runs over TLS', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams: { a: { targets: ['127.0.0.1:1'], protocol: 'h2' } }, routes: ROUTES }))
  assert.deepEqual(issues, ['upstreams.a.protocol: h2 runs over TLS: enable tls, or use h2c for cleartext HTTP/2'])
})

test('protocol: h2c with tls is refused: h2c is cleartext', (t) => {
  const pki = makePki(t)
  const issues = issuesOf(() => loadConfigObject({ upstreams: { a: { targets: ['127.0.0.1:1'], protocol: 'h2c', tls: { ca: pki.files.ca } } }, routes: ROUTES }))
  assert.deepEqual(issues, ['upstreams.a.protocol: h2c is cleartext HTTP/2: use h2 with tls'])
})

test('an unknown protocol is refused with the choices', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams: { a: { targets: ['127.0.0.1:1'], protocol: 'h3' } }, routes: ROUTES }))
  assert.deepEqual(issues, ['upstreams.a.protocol: must be http1, h2 or h2c'])
})

test('h2 with tls and h2c without are accepted; http1 is the default', (t) => {
  const pki = makePki(t)
  const config = loadConfigObject({
    upstreams: {
      a: { targets: ['127.0.0.1:1'], protocol: 'h2', tls: { ca: pki.files.ca } },
      b: { targets: ['127.0.0.1:2'], protocol: 'h2c' },
      c: { targets: ['127.0.0.1:3'] }
    },
    routes: ROUTES
  })
  assert.deepEqual([...config.compiled.upstreams.values()].map(u => [u.name, u.protocol]), [['a', 'h2'], ['b', 'h2c'], ['c', 'http1']])
})
