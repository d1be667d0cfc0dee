/**
 * How tests talk to the gateway: undici requests (a fresh keep-alive agent per test,
 * closed after it) and raw sockets for what an HTTP client library would refuse to send.
 */
import { Agent, request as undiciRequest, type Dispatcher } from 'undici'
import { connect } from 'node:net'
import type { TestContext } from 'node:test'
import { clientAgentOptions } from './downstream.js'

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
  json<T = unknown> (): T
}

export interface RequestInit {
  method?: Dispatcher.HttpMethod
  headers?: Record<string, string>
  body?: string | Buffer
}

export function client (t: TestContext): (url: string, options?: RequestInit) => Promise<Reply> {
  const agent = new Agent({ keepAliveTimeout: 10_000, ...clientAgentOptions() })
  t.after(() => agent.close())
  return async (url, options = {}) => {
    const res = await undiciRequest(url, { ...options, dispatcher: agent })
    const text = await res.body.text()
    return {
      status: res.statusCode,
      headers: res.headers,
      text,
      json: <T>() => JSON.parse(text) as T
    }
  }
}

/** Sends raw bytes and resolves with everything the server sent back before closing. */
export async function rawExchange (port: number, bytes: string | Buffer, options: { endAfterWrite?: boolean, timeoutMs?: number } = {}): Promise<{ data: string, closedByServer: boolean, elapsedMs: number }> {
  const started = performance.now()
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let closedByServer = false
    const timer = setTimeout(() => socket.destroy(), options.timeoutMs ?? 5000)
    socket.on('data', c => chunks.push(c))
    socket.on('end', () => { closedByServer = true })
    socket.on('error', reject)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ data: Buffer.concat(chunks).toString('latin1'), closedByServer, elapsedMs: performance.now() - started })
    })
    socket.write(bytes)
    if (options.endAfterWrite === true) socket.end()
  })
}

export interface ErrorBody {
  error: { status: number, code: string, message: string, requestId: string | null }
}
