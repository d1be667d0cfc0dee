// `tollgate validate` on health settings, as a user runs it: what cannot work is one
// `path: message` line each; a custom check exported from routes/ is found.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.js'
import { tempFolder } from '../helpers/files.js'

test('validate refuses a timeout longer than the interval and a custom check nobody registered, one line each', (t) => {
  const dir = tempFolder(t, 'tollgate-health-cli-')
  writeFileSync(join(dir, 'g.yaml'), `
upstreams:
  blue:
    targets: ["127.0.0.1:3001"]
    healthCheck: { type: http, path: /health, interval: 1s, timeout: 2s }
  green:
    targets: ["127.0.0.1:3002"]
    healthCheck: { type: custom, name: db-ready }
`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1, result.stderr)
  assert.deepEqual(result.stdout.trim().split('\n').sort(), [
    'upstreams.blue.healthCheck.timeout: must not be longer than interval (1s), so that each check ends by the time the next is due',
    'upstreams.green.healthCheck.name: no health check named "db-ready" is registered (export defineHealthCheck("db-ready", …) from a module in routes/ or from the config module)'
  ])
})

test('validate refuses thresholds of 0', (t) => {
  const dir = tempFolder(t, 'tollgate-health-cli-')
  writeFileSync(join(dir, 'g.yaml'), `
upstreams:
  blue:
    targets: ["127.0.0.1:3001"]
    healthCheck: { type: tcp, healthyThreshold: 0, unhealthyThreshold: 0 }
    passive: { consecutiveFailures: 0 }
`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1, result.stderr)
  assert.deepEqual(result.stdout.trim().split('\n').sort(), [
    'upstreams.blue.healthCheck.healthyThreshold: must be a whole number from 1 to 1000',
    'upstreams.blue.healthCheck.unhealthyThreshold: must be a whole number from 1 to 1000',
    'upstreams.blue.passive.consecutiveFailures: must be a whole number from 1 to 1000'
  ])
})

test('validate finds a custom check exported from a module in routes/', (t) => {
  const dir = tempFolder(t, 'tollgate-health-cli-')
  writeFileSync(join(dir, 'g.yaml'), `
upstreams:
  green:
    targets: ["127.0.0.1:3002"]
    healthCheck: { type: custom, name: db-ready, interval: 2s, timeout: 500ms }
`)
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes', 'checks.ts'), `
import { defineHealthCheck } from 'tollgate'
export const dbReady = defineHealthCheck('db-ready', async () => true)
`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 0, result.stdout + result.stderr)
  assert.equal(result.stdout, 'config OK\n')
})
