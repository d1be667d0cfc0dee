/** What a metrics endpoint serves: one gateway's registry, or the sum over workers. */
export interface MetricsSource {
  /** The Prometheus text of every family. */
  scrape (): Promise<string>
  readonly contentType: string
}
