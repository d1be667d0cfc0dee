/**
 * Metrics with `workers` > 1: each worker counts in its own registry and opens no metrics
 * listener; the primary serves the metrics listener and answers each scrape with the sum
 * over the workers, asked over the cluster's IPC channel by prom-client's
 * AggregatorRegistry. Counters and histograms are summed; each gauge says how it is
 * combined (`aggregator` where it is defined: in-flight summed, target health the minimum,
 * so a target any worker sees down shows 0).
 */
import { AggregatorRegistry, type Registry } from 'prom-client'
import type { MetricsSource } from './source.js'

/** The primary's side: the sum of every worker's registry. */
export class ClusterMetrics implements MetricsSource {
  // Constructed in the primary, it sends the requests and gathers the answers.
  private readonly aggregator = new AggregatorRegistry()

  async scrape (): Promise<string> {
    return await this.aggregator.clusterMetrics()
  }

  get contentType (): string {
    return this.aggregator.contentType
  }
}

/**
 * A worker's side: answer the primary's requests with `registry`. Constructing an
 * AggregatorRegistry in a worker is what installs prom-client's answering listener.
 */
export function answerPrimaryWith (registry: Registry): void {
  AggregatorRegistry.setRegistries([registry])
  new AggregatorRegistry()
}
