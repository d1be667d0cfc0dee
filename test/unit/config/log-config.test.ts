import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { DEFAULT_REDACTED_QUERY } from '../../../src/log/redact.js'
import { issuesOf } from '../../helpers/config.js'

test('logs are JSON lines with the access log on and the default secret query names, unless the config says otherwise', () => {
  const { server } = loadConfigObject({}).compiled
  assert.equal(server.logFormat, 'json')
  assert.equal(server.accessLog, true)
  assert.deepEqual(server.redactQuery, DEFAULT_REDACTED_QUERY)
  const set = loadConfigObject({ server: { logFormat: 'pretty', accessLog: false, redactQuery: ['Sig', 'auth'] } }).compiled.server
  assert.deepEqual({ format: set.logFormat, accessLog: set.accessLog, redactQuery: set.redactQuery }, { format: 'pretty', accessLog: false, redactQuery: ['sig', 'auth'] })
  assert.deepEqual(loadConfigObject({ server: { redactQuery: [] } }).compiled.server.redactQuery, [])
})

test('an unknown logFormat and a redactQuery entry that is not a parameter name are refused as path: message', () => {
  const issues = issuesOf(() => loadConfigObject({ server: { logFormat: 'text', redactQuery: ['token', 'a=b', ''] } }))
  assert.ok(issues.includes('server.logFormat: must be one of json, pretty'), issues.join('\n'))
  assert.ok(issues.some(i => i.startsWith('server.redactQuery[1]: ')), issues.join('\n'))
  assert.ok(issues.some(i => i.startsWith('server.redactQuery[2]: ')), issues.join('\n'))
  assert.deepEqual(issuesOf(() => loadConfigObject({ server: { redactQuery: 'token' } })).map(i => i.split(':')[0]), ['server.redactQuery'])
})
