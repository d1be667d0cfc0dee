/** An Upstream with a `discovery` source, started, and the log lines it wrote. */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { compileGateway } from '../../src/config/compile.js'
import { Upstream } from '../../src/upstream/upstream.js'
import type { HealthLog } from '../../src/health/upstream-health.js'
import type { DiscoveryConfig } from '../../src/discovery/config.js'

export interface Logged { level: string, fields: Record<string, unknown>, message: string }

export function discoveredUpstream (t: TestContext, discovery: DiscoveryConfig): { upstream: Upstream, lines: Logged[] } {
  const compiled = compileGateway({ upstreams: { u: { discovery } } }, { baseDir: process.cwd() }).upstreams.get('u')
  assert.ok(compiled !== undefined)
  const lines: Logged[] = []
  const at = (level: string) => (fields: object, message: string): void => { lines.push({ level, fields: fields as Record<string, unknown>, message }) }
  const log: HealthLog = { info: at('info'), warn: at('warn'), error: at('error') }
  const upstream = new Upstream(compiled, { onConnection: () => undefined }, log)
  t.after(async () => await upstream.close())
  upstream.start()
  return { upstream, lines }
}
