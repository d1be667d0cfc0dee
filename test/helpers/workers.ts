/**
 * A gateway started through the built CLI with several workers. Besides what startCli
 * does, it finds which worker served a request (from the access-log line of its request
 * id), and after the test kills, by their PIDs, any worker the primary started that is
 * still running: a test never leaves a worker behind, even when it killed the primary.
 */
import type { TestContext } from 'node:test'
import { request, type Dispatcher } from 'undici'
import { startCli, type RunningCli } from './cli.js'
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
