/**
 * Driving rate limits from tests: clients that connect from a chosen loopback address (all
 * of 127.0.0.0/8 is loopback), paced traffic that records when each request left and when
 * its answer came, and a check on what passed that no scheduling delay can fail falsely.
 */
import { Agent, request as undiciRequest } from 'undici'
import type { TestContext } from 'node:test'
import type { Reply, RequestInit } from './client.js'
import { clientAgentOptions } from './downstream.js'

/**
 * Like client(), but every connection comes from `localAddress`. (undici's client option:
 * `connect: { localAddress }` is overridden by it, unset, and has no effect.)
 */
export function clientFrom (t: TestContext, localAddress: string): (url: string, options?: RequestInit) => Promise<Reply> {
  const agent = new Agent({ keepAliveTimeout: 10_000, localAddress, ...clientAgentOptions() })
  t.after(() => agent.close())
  return async (url, options = {}) => {
    const res = await undiciRequest(url, { ...options, dispatcher: agent })
    const text = await res.body.text()
    return { status: res.statusCode, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }
  }
}

export interface Timed {
  /** performance.now() when the request was sent, and when its answer had arrived. */
  readonly sent: number
  readonly received: number
  readonly status: number
}

/**
 * Sends `count` requests, each at least `intervalMs` after the one before (a late timer
 * delays the rest rather than bunching them), without waiting for answers; resolves with
 * every request's times and status, in the order sent.
 */
export async function paced (count: number, intervalMs: number, send: () => Promise<{ status: number }>): Promise<Timed[]> {
  const pending: Promise<Timed>[] = []
  let last = -Infinity
  for (let i = 0; i < count; i++) {
    const wait = last + intervalMs - performance.now()
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    const sent = performance.now()
    last = sent
    pending.push(send().then(res => ({ sent, received: performance.now(), status: res.status })))
  }
  return await Promise.all(pending)
}

/**
 * Spans of less than `windowMs` that held more than `limit` passed requests. Each passed
 * request was let through somewhere between its `sent` and its `received`; any `limit + 1`
 * passed requests whose times all fit between the first one's `sent` and the last answer
 * of the group in less than `windowMs` were certainly let through within one window. A
 * correct limiter never shows one, however late the requests or their answers were.
 */
export function overfullSpans (results: readonly Timed[], limit: number, windowMs: number, passed = 200): string[] {
  const ok = results.filter(r => r.status === passed).sort((a, b) => a.sent - b.sent)
  const found: string[] = []
  for (let i = 0; i + limit < ok.length; i++) {
    const group = ok.slice(i, i + limit + 1)
    const first = group[0] as Timed
    const end = Math.max(...group.map(r => r.received))
    if (end - first.sent < windowMs) found.push(`${limit + 1} passed within ${(end - first.sent).toFixed(0)} ms (from ${first.sent.toFixed(0)})`)
  }
  return found
}
