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
import { Counter, Gauge, Registry, collectDefaultMetrics, type Aggregator, type Metric } from 'prom-client'
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
    return seriesOf(this.routes, name, RouteSeries)
  }

  /** The series of requests no route matched. */
  get unmatched (): RouteSeries {
    return this.route(UNMATCHED_ROUTE)
  }

  /** The series of upstream `name`, made on first use. */
  upstream (name: string): UpstreamSeries {
    return seriesOf(this.upstreams, name, UpstreamSeries)
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
    const registry = this.registry
    const routes = this.routes
    const upstreams = this.upstreams
    const live = this.live
    rebuiltCounter(registry, 'tollgate_requests_total', 'Requests answered, by route, method and status.', ['route', 'method', 'status'], add => {
      for (const route of routes.values()) for (const cell of route.requests.values()) add(cell.labels, cell.value)
    })
    registry.registerMetric(new ScrapedHistogram('tollgate_request_duration_seconds', 'Time from the request to the end of its response, by route.',
      () => histogramSeries(routes.values(), route => ({ route: route.name }))) as unknown as Metric)
    rebuiltCounter(registry, 'tollgate_upstream_requests_total', 'Requests sent to upstream targets (one per try), by upstream, target and response status ("error": no response).', ['upstream', 'target', 'status'], add => {
      for (const upstream of upstreams.values()) {
        for (const target of upstream.targets) for (const cell of target.attempts.values()) add(cell.labels, cell.value)
      }
    })
    registry.registerMetric(new ScrapedHistogram('tollgate_upstream_duration_seconds', 'Time from sending a request upstream to the end of its response, by upstream.',
      () => histogramSeries(upstreams.values(), upstream => ({ upstream: upstream.name }))) as unknown as Metric)
    // Across workers: 0 when any worker has found the target unhealthy.
    rebuiltGauge(registry, 'tollgate_upstream_target_healthy', '1 while a target is healthy (active and passive checks), else 0.', ['upstream', 'target'], 'min', set => {
      for (const [name, upstream] of live()) {
        if (!upstreams.has(name)) continue
        for (const target of upstream.targets) set({ upstream: name, target: target.id }, target.healthy ? 1 : 0)
      }
    })
    rebuiltCounter(registry, 'tollgate_upstream_connections_total', 'Upstream requests by whether their connection was kept alive from an earlier one.', ['upstream', 'reused'], add => {
      for (const upstream of upstreams.values()) {
        add({ upstream: upstream.name, reused: 'false' }, upstream.fresh)
        add({ upstream: upstream.name, reused: 'true' }, upstream.reused)
      }
    })
    rebuiltCounter(registry, 'tollgate_cache_requests_total', 'Requests of cached routes, by route and cache status (hit, miss, expired, stale, updating, revalidated, bypass).', ['route', 'status'], add => {
      for (const route of routes.values()) for (const [status, value] of route.cached) add({ route: route.name, status }, value)
    })
    rebuiltCounter(registry, 'tollgate_rate_limited_total', 'Requests refused with 429 by a route\'s rate limit (reason="rate") or concurrency limit (reason="concurrency").', ['route', 'reason'], add => {
      for (const route of routes.values()) {
        if (route.limits.rate || route.refused.rate > 0) add({ route: route.name, reason: 'rate' }, route.refused.rate)
        if (route.limits.concurrency || route.refused.concurrency > 0) add({ route: route.name, reason: 'concurrency' }, route.refused.concurrency)
      }
    })
    rebuiltGauge(registry, 'tollgate_inflight_requests', 'Requests in flight, by route.', ['route'], 'sum', set => {
      for (const route of routes.values()) set({ route: route.name }, route.inflight)
    })
  }
}

/** The series `name` of `all`, made and kept there on first use. */
function seriesOf<S> (all: Map<string, S>, name: string, Series: new (name: string) => S): S {
  let series = all.get(name)
  if (series === undefined) {
    series = new Series(name)
    all.set(name, series)
  }
  return series
}

type Labels<L extends string> = Readonly<Record<L, string>>

/**
 * A counter whose series are rebuilt from the gateway's series at each scrape (`fill`
 * adds each one's total): a series dropped by `retain` is gone from the next scrape
 * without a remove() per label set. Counts sum across workers.
 */
function rebuiltCounter<L extends string> (registry: Registry, name: string, help: string, labelNames: readonly L[], fill: (add: (labels: Labels<L>, value: number) => void) => void): void {
  const counter: Counter<L> = new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect: () => {
      counter.reset()
      fill((labels, value) => { counter.inc(labels as Partial<Record<L, string>>, value) })
    }
  })
}

/** A gauge rebuilt at each scrape like rebuiltCounter; `aggregator` says how workers' values combine. */
function rebuiltGauge<L extends string> (registry: Registry, name: string, help: string, labelNames: readonly L[], aggregator: Aggregator, fill: (set: (labels: Labels<L>, value: number) => void) => void): void {
  const gauge: Gauge<L> = new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    aggregator,
    collect: () => {
      gauge.reset()
      fill((labels, value) => { gauge.set(labels as Partial<Record<L, string>>, value) })
    }
  })
}

function * histogramSeries<T extends { readonly duration: HistogramSeries['counts'] }> (all: Iterable<T>, labels: (series: T) => Record<string, string>): Iterable<HistogramSeries> {
  for (const series of all) yield { labels: labels(series), counts: series.duration }
}
