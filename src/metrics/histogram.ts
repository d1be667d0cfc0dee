/**
 * A histogram family in the shape prom-client's registries read (`get()`, the same
 * values its own Histogram gives), whose series are read from BucketCounts when scraped.
 * prom-client's Histogram can only be fed one observation at a time, through a label
 * hash; this one costs the request nothing but BucketCounts.observe. Being read through
 * `get()`, it is formatted by Registry.metrics() and summed by AggregatorRegistry like any
 * prom-client metric.
 */
import type { Aggregator } from 'prom-client'
import type { BucketCounts } from './buckets.js'

export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>
  readonly counts: BucketCounts
}

interface HistogramValue {
  readonly labels: Record<string, string | number>
  readonly value: number
  readonly metricName: string
}

export class ScrapedHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  /** Across workers, every bucket, sum and count adds up. */
  readonly aggregator: Aggregator = 'sum'
  private readonly series: () => Iterable<HistogramSeries>

  constructor (name: string, help: string, series: () => Iterable<HistogramSeries>) {
    this.name = name
    this.help = help
    this.series = series
  }

  async get (): Promise<{ name: string, help: string, type: string, aggregator: Aggregator, values: HistogramValue[] }> {
    const bucket = `${this.name}_bucket`
    const values: HistogramValue[] = []
    for (const { labels, counts } of this.series()) {
      let cumulative = 0
      for (let i = 0; i < counts.bounds.length; i++) {
        cumulative += counts.counts[i] as number
        values.push({ labels: { ...labels, le: counts.bounds[i] as number }, value: cumulative, metricName: bucket })
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: counts.count, metricName: bucket })
      values.push({ labels: { ...labels }, value: counts.sum, metricName: `${this.name}_sum` })
      values.push({ labels: { ...labels }, value: counts.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Registry.resetMetrics() calls this; the counts belong to the routes and upstreams. */
  reset (): void {}
}
