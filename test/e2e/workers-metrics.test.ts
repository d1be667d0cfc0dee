/**
 * Metrics with workers: the primary serves the metrics listener, and a scrape is the sum
 * over every worker; the workers open none of their own.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { tempFolder } from '../helpers/files.js'
import { config, reachEvery, started } from '../helpers/workers.js'
import { promtoolCheck, sample } from '../helpers/metrics.js'

test('--workers 2 with metrics: the primary serves them, summed over both workers', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-metrics-')
  const origin = await startOrigin(t, 'blue')
  const file = join(dir, 'g.yaml')
  writeFileSync(file, config(origin.address, 'one', { metrics: { listen: { host: '127.0.0.1', port: 0 } } }))
  const { cli, url, pids } = await started(t, file)
  const opened = await cli.waitForLog(l => l.msg === 'metrics listening')
  assert.equal(opened.pid, cli.child.pid, 'the primary opened the metrics listener')
  const metricsUrl = `http://127.0.0.1:${(opened.metrics as { port: number }).port}/metrics`

  const { byPid } = await reachEvery(cli, url, pids)
  assert.equal(byPid.size, 2, 'both workers served')
  const served = [...byPid.values()].reduce((sum, ids) => sum + ids.length, 0)

  const res = await request(metricsUrl)
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain/)
  const text = await res.body.text()
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'app', method: 'GET', status: '200' }), served, 'the requests of both workers, summed')
  assert.equal(sample(text, 'tollgate_upstream_requests_total', { upstream: 'app', target: origin.address, status: '200' }), served)
  assert.equal(sample(text, 'tollgate_request_duration_seconds_count', { route: 'app' }), served)
  assert.equal(sample(text, 'tollgate_upstream_target_healthy', { upstream: 'app', target: origin.address }), 1, 'a gauge is combined, not summed to 2')
  assert.equal(cli.lines.filter(l => l.msg === 'metrics listening').length, 1, 'no worker opened a metrics listener')
  const checked = await promtoolCheck(text)
  assert.doesNotMatch(checked.output, /error while linting/, checked.output)
})
