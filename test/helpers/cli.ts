/**
 * Runs the built `tollgate` CLI (dist/, made by `npm run build` / `npm test`) as a child
 * process, the way a user would, and reads its JSON log lines.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { ChildLines, endChild, type ChildExit } from './child.js'

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))

/** `env`: the whole environment of the command (default: this process's). */
export function runCli (args: string[], options: { input?: string, cwd?: string, env?: NodeJS.ProcessEnv } = {}): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { input: options.input ?? '', encoding: 'utf8', cwd: options.cwd, env: options.env, timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

export interface RunningCli {
  readonly child: ChildProcess
  /**
   * Resolves with the first log line that `match` accepts; fails as soon as the gateway
   * exits without printing it, or after `timeoutMs`.
   */
  waitForLog (match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  readonly lines: Record<string, unknown>[]
  readonly exited: Promise<ChildExit>
}

/** `env`: the whole environment of the command (default: this process's). */
export function startCli (t: TestContext, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd, env: options.env })
  const out = new ChildLines(child, `tollgate ${args.join(' ')}`)
  const lines: Record<string, unknown>[] = []
  const parse = (text: string): Record<string, unknown> | null => {
    try {
      const value = JSON.parse(text) as unknown
      return value !== null && typeof value === 'object' ? value as Record<string, unknown> : null
    } catch {
      return null
    }
  }
  out.onLine(text => { const line = parse(text); if (line !== null) lines.push(line) })
  t.after(async () => { await endChild(out, () => child.kill('SIGKILL')) })
  return {
    child,
    lines,
    exited: out.exited,
    waitForLog: async (match, timeoutMs = 30_000) => {
      const text = await out.waitFor(l => { const line = parse(l); return line !== null && match(line) }, 'the awaited log line', timeoutMs)
      return parse(text) as Record<string, unknown>
    }
  }
}

/** The port of the first `listening` log line. */
export async function listeningPort (cli: RunningCli): Promise<number> {
  const line = await cli.waitForLog(l => l.msg === 'listening')
  return Number(new URL(String(line.address)).port)
}
