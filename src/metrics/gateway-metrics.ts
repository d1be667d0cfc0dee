/**
 * The contract's metrics (CONTRACT §6), defined once, on a prom-client Registry that
 * belongs to the Gateway: it outlives app versions, so a reload neither resets counters
 * nor drops the series of routes and upstreams that stay; `retain` drops those of the
 * ones a config removed. The registry is a plain prom-client Registry, so a worker process
 * can hand it to `AggregatorRegistry.setRegistries([...])` and a primary sum the workers;
 * each family says how it adds up (`aggregator`).
 *
 * Requests and upstream attempts count into RouteSeries and UpstreamSeries (plain fields,
 * nothing built per request); the families below read them in their `collect`, at scrape.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import type { CompiledGateway } from '../config/compile.js'
import { RouteSeries } from './route-series.js'
import { UpstreamSeries } from './upstream-series.js'
import { ScrapedHistogram, type HistogramSeries } from './histogram.js'
import { UNMATCHED_ROUTE } from './labels.js'
import { watchConnectionReuse } from './connection-reuse.js'

/** What the health gauge reads: the live upstreams and their targets, at scrape time. */
export interface LiveTargetView {
  readonly targets: readonly { readonly id: string, readonly healthy: boolean }[]
}

export class GatewayMetrics {
  readonly registry = new Registry()
  private readonly routes = new Map<string, RouteSeries>()
  private readonly upstreams = new Map<string, UpstreamSeries>()
  private readonly live: () => ReadonlyMap<string, LiveTargetView>
  private defaultsOn = false
  private stopWatching: (() => void) | null = null

  constructor (live: () => ReadonlyMap<string, LiveTargetView>) {
    this.live = live
    this.routes.set(UNMATCHED_ROUTE, new RouteSeries(UNMATCHED_ROUTE))
    this.define()
  }

  /** The series of route `name`, made on first use (`""`: requests no route matched). */
  route (name: string): RouteSeries {
    let series = this.routes.get(name)
    if (series === undefined) {
      series = new RouteSeries(name)
      this.routes.set(name, series)
    }
    return series
  }

  /** The series of requests no route matched. */
  get unmatched (): RouteSeries {
    return this.route(UNMATCHED_ROUTE)
  }

  /** The series of upstream `name`, made on first use. */
  upstream (name: string): UpstreamSeries {
    let series = this.upstreams.get(name)
    if (series === undefined) {
      series = new UpstreamSeries(name)
      this.upstreams.set(name, series)
    }
    return series
  }

  /**
   * `config` is now served: its routes and upstreams have series (at 0 until traffic
   * comes), those it no longer has lose theirs. Requests still in flight on a removed
   * route finish into a series nobody reads.
   */
  retain (config: CompiledGateway): void {
    const routes = new Set([UNMATCHED_ROUTE])
    for (const route of config.routes) {
      routes.add(route.name)
      this.route(route.name).limits = { rate: route.rateLimit !== null, concurrency: route.concurrency !== null }
    }
    for (const name of this.routes.keys()) if (!routes.has(name)) this.routes.delete(name)
    for (const name of config.upstreams.keys()) this.upstream(name)
    for (const name of this.upstreams.keys()) if (!config.upstreams.has(name)) this.upstreams.delete(name)
  }

  /**
   * Starts what only a served endpoint needs: prom-client's process and Node.js metrics
   * (their collectors sample the event loop and GC once started) and the connection
   * reuse watch.
   */
  start (): void {
    if (!this.defaultsOn) {
      collectDefaultMetrics({ register: this.registry })
      this.defaultsOn = true
    }
    this.stopWatching ??= watchConnectionReuse()
  }

  /** Stops watching connections (the default metrics' samplers are prom-client's, and stay). */
  stop (): void {
    this.stopWatching?.()
    this.stopWatching = null
  }

  /** The Prometheus text of every family. */
  async scrape (): Promise<string> {
    return await this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }

  private define (): void {
    const registers = [this.registry]
    const routes = this.routes
    const upstreams = this.upstreams
    const live = this.live
    // Counters and gauges are rebuilt from the series at each scrape: a series dropped by
    // `retain` is gone from the next scrape without a remove() per label set.
    const requests: Counter<'route' | 'method' | 'status'> = new Counter({
      name: 'tollgate_requests_total',
      help: 'Requests answered, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
      collect: () => {
        requests.reset()
        for (const route of routes.values()) for (const cell of route.requests.values()) requests.inc(cell.labels, cell.value)
      }
    })
    this.registry.registerMetric(new ScrapedHistogram('tollgate_request_duration_seconds', 'Time from the request to the end of its response, by route.',
      () => histogramSeries(routes.values(), route => ({ route: route.name }))) as unknown as Metric)
    const attempts: Counter<'upstream' | 'target' | 'status'> = new Counter({
      name: 'tollgate_upstream_requests_total',
      help: 'Requests sent to upstream targets (one per try), by upstream, target and response status ("error": no response).',
      labelNames: ['upstream', 'target', 'status'],
      registers,
      collect: () => {
        attempts.reset()
        for (const upstream of upstreams.values()) {
          for (const target of upstream.targets) for (const cell of target.attempts.values()) attempts.inc(cell.labels, cell.value)
        }
      }
    })
    this.registry.registerMetric(new ScrapedHistogram('tollgate_upstream_duration_seconds', 'Time from sending a request upstream to the end of its response, by upstream.',
      () => histogramSeries(upstreams.values(), upstream => ({ upstream: upstream.name }))) as unknown as Metric)
    const healthy: Gauge<'upstream' | 'target'> = new Gauge({
      name: 'tollgate_upstream_target_healthy',
      help: '1 while a target is healthy (active and passive checks), else 0.',
      labelNames: ['upstream', 'target'],
      registers,
      // Across workers: 0 when any worker has found the target unhealthy.
      aggregator: 'min',
      collect: () => {
        healthy.reset()
        for (const [name, upstream] of live()) {
          if (!upstreams.has(name)) continue
          for (const target of upstream.targets) healthy.set({ upstream: name, target: target.id }, target.healthy ? 1 : 0)
        }
      }
    })
    const connections: Counter<'upstream' | 'reused'> = new Counter({
      name: 'tollgate_upstream_connections_total',
      help: 'Upstream requests by whether their connection was kept alive from an earlier one.',
      labelNames: ['upstream', 'reused'],
      registers,
      collect: () => {
        connections.reset()
        for (const upstream of upstreams.values()) {
          connections.inc({ upstream: upstream.name, reused: 'false' }, upstream.fresh)
          connections.inc({ upstream: upstream.name, reused: 'true' }, upstream.reused)
        }
      }
    })
    // eslint-disable-next-line no-new -- registered by its constructor; series come with the HTTP cache
    new Counter({
      name: 'tollgate_cache_requests_total',
      help: 'Requests of cached routes, by route and cache status (hit, miss, ...).',
      labelNames: ['route', 'status'],
      registers
    })
    const refused: Counter<'route' | 'reason'> = new Counter({
      name: 'tollgate_rate_limited_total',
      help: 'Requests refused with 429 by a route\'s rate limit (reason="rate") or concurrency limit (reason="concurrency").',
      labelNames: ['route', 'reason'],
      registers,
      collect: () => {
        refused.reset()
        for (const route of routes.values()) {
          if (route.limits.rate || route.refused.rate > 0) refused.inc({ route: route.name, reason: 'rate' }, route.refused.rate)
          if (route.limits.concurrency || route.refused.concurrency > 0) refused.inc({ route: route.name, reason: 'concurrency' }, route.refused.concurrency)
        }
      }
    })
    const inflight: Gauge<'route'> = new Gauge({
      name: 'tollgate_inflight_requests',
      help: 'Requests in flight, by route.',
      labelNames: ['route'],
      registers,
      aggregator: 'sum',
      collect: () => {
        inflight.reset()
        for (const route of routes.values()) inflight.set({ route: route.name }, route.inflight)
      }
    })
  }
}

function * histogramSeries<T extends { readonly duration: HistogramSeries['counts'] }> (all: Iterable<T>, labels: (series: T) => Record<string, string>): Iterable<HistogramSeries> {
  for (const series of all) yield { labels: labels(series), counts: series.duration }
}
