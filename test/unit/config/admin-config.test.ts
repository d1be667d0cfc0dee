import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { isLoopbackHost } from '../../../src/net/address.js'
import { issuesOf } from '../../helpers/config.js'

test('admin without listen binds 127.0.0.1:9090 and asks for no token', () => {
  const { compiled } = loadConfigObject({ admin: {} })
  assert.deepEqual(compiled.admin, { host: '127.0.0.1', port: 9090, token: null })
})

test('a config without admin has no admin listener', () => {
  assert.equal(loadConfigObject({}).compiled.admin, null)
})

test('admin on a non-loopback address without a token is refused as path: message', () => {
  const issues = issuesOf(() => loadConfigObject({ admin: { listen: { host: '0.0.0.0', port: 9090 } } }))
  assert.deepEqual(issues, ['admin.token: is required when admin.listen.host (0.0.0.0) is not a loopback address'])
})

test('admin on a non-loopback address with a token is accepted', () => {
  const { compiled } = loadConfigObject({ admin: { listen: { host: '0.0.0.0', port: 9191 }, token: 's3cret' } })
  assert.deepEqual(compiled.admin, { host: '0.0.0.0', port: 9191, token: 's3cret' })
})

test('admin keys are checked by the schema: unknown keys and empty tokens are refused', () => {
  const issues = issuesOf(() => loadConfigObject({ admin: { token: '', colour: 'red' } }))
  assert.ok(issues.includes('admin.colour: unknown key'), issues.join('\n'))
  assert.ok(issues.some(i => i.startsWith('admin.token: ')), issues.join('\n'))
})

test('loopback hosts are 127.0.0.0/8, ::1 and localhost; others are not', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host)
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '127.example.com']) assert.equal(isLoopbackHost(host), false, host)
})
