/**
 * Scraping the metrics listener in tests, and reading samples out of the Prometheus text
 * by name and exact label set.
 */
import { execFile } from 'node:child_process'
import { request } from 'undici'
import type { Gateway } from '../../src/gateway.js'

export interface Scrape {
  readonly status: number
  readonly contentType: string
  readonly text: string
}

/** GET of `path` (default /metrics) on the gateway's metrics listener. */
export async function scrape (gateway: Gateway, path = '/metrics'): Promise<Scrape> {
  const address = gateway.metricsAddress()
  if (address === null) throw new Error('the gateway has no metrics listener')
  const res = await request(`http://127.0.0.1:${address.port}${path}`)
  return { status: res.statusCode, contentType: String(res.headers['content-type']), text: await res.body.text() }
}

/** The metrics text, asserting the scrape answered 200. */
export async function metricsText (gateway: Gateway): Promise<string> {
  const res = await scrape(gateway)
  if (res.status !== 200) throw new Error(`metrics answered ${res.status}: ${res.text}`)
  return res.text
}

/**
 * The value of the sample `name` whose labels are exactly `labels`, or undefined when the
 * text has no such sample.
 */
export function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue
    const parsed = parseLine(line)
    if (parsed === null || parsed.name !== name) continue
    const keys = Object.keys(labels)
    if (keys.length !== Object.keys(parsed.labels).length) continue
    if (keys.every(key => parsed.labels[key] === labels[key])) return parsed.value
  }
  return undefined
}

/** Every sample of `name`, with its labels. */
export function samples (text: string, name: string): { labels: Record<string, string>, value: number }[] {
  const out: { labels: Record<string, string>, value: number }[] = []
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const parsed = parseLine(line)
    if (parsed !== null && parsed.name === name) out.push({ labels: parsed.labels, value: parsed.value })
  }
  return out
}

/** The `# TYPE` of family `name`, or undefined. */
export function typeOf (text: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\S+)$`, 'm').exec(text)?.[1]
}

function parseLine (line: string): { name: string, labels: Record<string, string>, value: number } | null {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line)
  if (match === null) return null
  const labels: Record<string, string> = {}
  const body = match[3] ?? ''
  for (const pair of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, '$1')
  const raw = match[4] as string
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw)
  return { name: match[1] as string, labels, value }
}

/** Runs `promtool check metrics` on `text`: its exit code and what it printed. */
export async function promtoolCheck (text: string): Promise<{ code: number, output: string }> {
  return await new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof (err as { code?: unknown }).code !== 'number') {
        reject(err)
        return
      }
      resolve({ code: err === null ? 0 : (err as { code: number }).code, output: `${stdout}${stderr}` })
    })
    child.stdin?.end(text)
  })
}
