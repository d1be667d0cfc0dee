/**
 * Runs the built `tollgate` CLI (dist/, made by `npm run build` / `npm test`) as a child
 * process, the way a user would, and reads its JSON log lines.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import type { TestContext } from 'node:test'

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))

export function runCli (args: string[], options: { input?: string, cwd?: string } = {}): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { input: options.input ?? '', encoding: 'utf8', cwd: options.cwd, timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

export interface RunningCli {
  readonly child: ChildProcess
  /** Resolves with the first log line that `match` accepts. */
  waitForLog (match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>
  readonly lines: Record<string, unknown>[]
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export function startCli (t: TestContext, args: string[], options: { cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd })
  const lines: Record<string, unknown>[] = []
  const waiters: { match: (l: Record<string, unknown>) => boolean, resolve: (l: Record<string, unknown>) => void }[] = []
  let buffer = ''
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let nl = buffer.indexOf('\n')
    while (nl >= 0) {
      const text = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      nl = buffer.indexOf('\n')
      let line: Record<string, unknown>
      try { line = JSON.parse(text) as Record<string, unknown> } catch { continue }
      lines.push(line)
      for (const w of [...waiters]) {
        if (w.match(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line) }
      }
    }
  })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return {
    child,
    lines,
    exited,
    waitForLog: async (match) => {
      const found = lines.find(match)
      if (found !== undefined) return found
      return await new Promise((resolve, reject) => {
        waiters.push({ match, resolve })
        void exited.then(({ code }) => reject(new Error(`the gateway exited (code ${String(code)}) before the log line came:\n${stderr}`)))
      })
    }
  }
}

/** The port of the first `listening` log line. */
export async function listeningPort (cli: RunningCli): Promise<number> {
  const line = await cli.waitForLog(l => l.msg === 'listening')
  return Number(new URL(String(line.address)).port)
}
