/**
 * A gateway started through the built CLI with several workers. Besides what startCli
 * does, it finds which worker served a request (from the access-log line of its request
 * id), and after the test kills, by their PIDs, any worker the primary started that is
 * still running: a test never leaves a worker behind, even when it killed the primary.
 * Also the config files and admin requests the worker tests share.
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { request, type Dispatcher } from 'undici'
import { listeningPort, startCli, type RunningCli } from './cli.js'
import { isRunning } from '../../src/cli/pid-file.js'

export interface RunningWorkers extends RunningCli {
  /** Resolves with the workers' PIDs once the primary logged that all of them serve. */
  ready (): Promise<number[]>
  /** The PID of the worker that served the request with this id. */
  servedBy (requestId: string): Promise<number>
  /** Every worker PID the primary has started so far. */
  startedPids (): number[]
}

export function startWorkers (t: TestContext, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): RunningWorkers {
  const cli = startCli(t, args, options)
  const startedPids = (): number[] => cli.lines.filter(l => l.msg === 'worker started').map(l => Number(l.workerPid))
  t.after(() => {
    for (const pid of startedPids()) if (isRunning(pid)) process.kill(pid, 'SIGKILL')
  })
  return {
    ...cli,
    startedPids,
    ready: async () => {
      const line = await cli.waitForLog(l => l.msg === 'workers ready')
      return (line.pids as number[]).map(Number)
    },
    servedBy: async (requestId) => {
      const line = await cli.waitForLog(l => l.msg === 'request' && l.requestId === requestId)
      return Number(line.pid)
    }
  }
}

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
  readonly requestId: string
}

/**
 * A request on a connection of its own (closed after it): the cluster hands each new
 * connection to the next worker, so a series of these reaches every worker.
 */
export async function onNewConnection (url: string, options: { method?: Dispatcher.HttpMethod, headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  const res = await request(url, { ...options, reset: true })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, requestId: String(res.headers['x-request-id']) }
}

/** A config file (JSON, which YAML reads too): one route with an `x-config` tag, access log on. */
export function config (upstream: string, tag: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify(configObject(upstream, tag, extra))
}

export function configObject (upstream: string, tag: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { listen: [{ host: '127.0.0.1', port: 0 }], accessLog: true, gracefulShutdown: '5s' },
    upstreams: { app: { targets: [upstream] } },
    routes: [{ name: 'app', upstream: 'app', responseHeaders: { set: { 'x-config': tag } } }],
    ...extra
  }
}

export const ADMIN = { admin: { listen: { host: '127.0.0.1', port: 0 } } }

/** The admin API's base URL (every worker listens on it). */
export async function adminUrl (cli: RunningWorkers): Promise<string> {
  const line = await cli.waitForLog(l => l.msg === 'admin API listening')
  return `http://127.0.0.1:${(line.admin as { port: number }).port}`
}

export async function putConfig (admin: string, body: Record<string, unknown>): Promise<void> {
  const put = await onNewConnection(`${admin}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  assert.equal(put.status, 200, put.text)
}

/** Requests on new connections until every worker in `pids` answered; all answers returned. */
export async function reachEvery (cli: RunningWorkers, url: string, pids: readonly number[], path = '/'): Promise<{ byPid: Map<number, string[]>, tags: Set<string> }> {
  const byPid = new Map<number, string[]>()
  const tags = new Set<string>()
  for (let i = 0; i < 40 && !pids.every(pid => byPid.has(pid)); i++) {
    const answer = await onNewConnection(`${url}${path}`)
    tags.add(`${answer.status} ${String(answer.headers['x-config'])}`)
    const pid = await cli.servedBy(answer.requestId)
    byPid.set(pid, [...byPid.get(pid) ?? [], answer.requestId])
  }
  return { byPid, tags }
}

export async function started (t: TestContext, file: string, extraArgs: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ cli: RunningWorkers, url: string, pids: number[] }> {
  const cli = startWorkers(t, ['start', '-c', file, '--workers', '2', ...extraArgs], env === undefined ? {} : { env })
  const pids = await cli.ready()
  const port = await listeningPort(cli)
  return { cli, url: `http://127.0.0.1:${port}`, pids }
}
