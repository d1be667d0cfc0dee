import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AggregatorRegistry } from 'prom-client'
import { GatewayMetrics, type LiveTargetView } from '../../../src/metrics/gateway-metrics.js'
import { BucketCounts } from '../../../src/metrics/buckets.js'
import { methodIndex, METHOD_LABELS } from '../../../src/metrics/labels.js'
import { loadConfigObject } from '../../../src/config/load.js'
import { sample } from '../../helpers/metrics.js'

const CONFIG = loadConfigObject({
  metrics: {},
  upstreams: { app: { targets: ['127.0.0.1:1'] } },
  routes: [{ name: 'r', upstream: 'app' }]
}).compiled

function metricsWith (healthy: boolean): GatewayMetrics {
  const live = new Map<string, LiveTargetView>([['app', { targets: [{ id: '127.0.0.1:1', healthy }] }]])
  const metrics = new GatewayMetrics(() => live)
  metrics.retain(CONFIG)
  return metrics
}

test('an observation equal to a bound lands in that bound\'s bucket; one above every bound only in +Inf', () => {
  const counts = new BucketCounts([0.1, 1])
  counts.observe(0.1)
  counts.observe(0.5)
  counts.observe(5)
  assert.deepEqual(counts.counts, [1, 1])
  assert.equal(counts.count, 3)
  assert.equal(counts.sum, 5.6)
})

test('standard methods keep their name as label; any other method is "other"', () => {
  assert.equal(METHOD_LABELS[methodIndex('GET')], 'GET')
  assert.equal(METHOD_LABELS[methodIndex('PATCH')], 'PATCH')
  assert.equal(METHOD_LABELS[methodIndex('PROPFIND')], 'other')
  assert.equal(METHOD_LABELS[methodIndex('get')], 'other')
  assert.equal(METHOD_LABELS[methodIndex(undefined)], 'other')
})

test('two registries (two workers) add up through AggregatorRegistry: counters and histograms sum, in-flight sums, health takes the minimum', async () => {
  const one = metricsWith(true)
  const two = metricsWith(false)
  for (const metrics of [one, two]) {
    const route = metrics.route('r')
    route.started()
    route.finished(methodIndex('GET'), 200, 0.02, null)
    route.started()
    metrics.upstream('app').target('127.0.0.1:1').attemptEnded(200, null, 0.01)
  }
  const aggregated = AggregatorRegistry.aggregate([await one.registry.getMetricsAsJSON(), await two.registry.getMetricsAsJSON()])
  const text = await aggregated.metrics()
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'r', method: 'GET', status: '200' }), 2)
  assert.equal(sample(text, 'tollgate_request_duration_seconds_bucket', { route: 'r', le: '0.025' }), 2)
  assert.equal(sample(text, 'tollgate_request_duration_seconds_count', { route: 'r' }), 2)
  assert.equal(sample(text, 'tollgate_upstream_requests_total', { upstream: 'app', target: '127.0.0.1:1', status: '200' }), 2)
  assert.equal(sample(text, 'tollgate_inflight_requests', { route: 'r' }), 2)
  assert.equal(sample(text, 'tollgate_upstream_target_healthy', { upstream: 'app', target: '127.0.0.1:1' }), 0)
})

test('retain drops the series of routes and upstreams a config no longer has, and keeps the counts of the others', async () => {
  const metrics = metricsWith(true)
  metrics.route('r').started()
  metrics.route('r').finished(methodIndex('GET'), 200, 0.02, null)
  metrics.route('gone').started()
  metrics.upstream('old').target('127.0.0.1:2').attemptEnded(502, null, 0.01)
  metrics.retain(CONFIG)
  const text = await metrics.scrape()
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'r', method: 'GET', status: '200' }), 1)
  assert.equal(sample(text, 'tollgate_inflight_requests', { route: 'gone' }), undefined)
  assert.equal(sample(text, 'tollgate_upstream_requests_total', { upstream: 'old', target: '127.0.0.1:2', status: '502' }), undefined)
  assert.equal(sample(text, 'tollgate_upstream_duration_seconds_count', { upstream: 'app' }), 0)
})
