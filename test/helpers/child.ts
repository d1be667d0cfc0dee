/**
 * Reading what a child process prints without ever hanging on it: every wait fails at
 * once, with the child's exit status and stderr, when the child ends before printing what
 * is awaited, and fails after a deadline when it prints something else or nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import type { TestContext } from 'node:test'

export interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

interface Waiter {
  readonly match: (line: string) => boolean
  readonly resolve: (line: string) => void
  readonly reject: (err: Error) => void
  readonly what: string
  readonly timer: NodeJS.Timeout
}

const KEEP_STDERR = 16 * 1024

/** Splits a child's stdout into lines and lets a test wait for the first line that matches. */
export class ChildLines {
  readonly child: ChildProcess
  /** Every complete stdout line, in order. */
  readonly lines: string[] = []
  /** Resolves when the process has exited (its streams may still be open). */
  readonly exited: Promise<ChildExit>
  private readonly name: string
  private readonly waiters = new Set<Waiter>()
  private readonly listeners = new Set<(line: string) => void>()
  private partial = ''
  private stderrText = ''
  /** Set once the child has ended and every byte it printed has been read. */
  private ended: string | null = null

  constructor (child: ChildProcess, name: string) {
    this.child = child
    this.name = name
    const stdout = child.stdout as Readable | null
    if (stdout === null) throw new Error(`${name}: spawn it with stdout: 'pipe'`)
    stdout.setEncoding('utf8')
    stdout.on('data', (chunk: string) => this.take(chunk))
    const stderr = child.stderr as Readable | null
    stderr?.setEncoding('utf8')
    stderr?.on('data', (chunk: string) => { this.stderrText = (this.stderrText + chunk).slice(-KEEP_STDERR) })
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
    })
    // 'close' comes after the exit and after the last byte of stdout and stderr was read.
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.end(`exited (code ${String(code)}, signal ${String(signal)})`)
    })
    child.once('error', (err: Error) => this.end(`could not be run: ${err.message}`))
  }

  /** What the child wrote to stderr (the last 16 kB), when it was spawned with stderr: 'pipe'. */
  get stderr (): string {
    return this.stderrText
  }

  /** Calls `listener` with every line printed from now on. */
  onLine (listener: (line: string) => void): void {
    this.listeners.add(listener)
  }

  /** The first line (already printed or still to come) that `match` accepts. */
  async waitFor (match: (line: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
    const found = this.lines.find(match)
    if (found !== undefined) return found
    if (this.ended !== null) throw this.failure(what, this.ended)
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        reject(this.failure(what, `printed no such line within ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter: Waiter = { match, resolve, reject, what, timer }
      this.waiters.add(waiter)
    })
  }

  private take (chunk: string): void {
    this.partial += chunk
    let nl = this.partial.indexOf('\n')
    while (nl >= 0) {
      const line = this.partial.slice(0, nl)
      this.partial = this.partial.slice(nl + 1)
      nl = this.partial.indexOf('\n')
      this.lines.push(line)
      for (const listener of this.listeners) listener(line)
      for (const waiter of [...this.waiters]) {
        if (!waiter.match(line)) continue
        this.waiters.delete(waiter)
        clearTimeout(waiter.timer)
        waiter.resolve(line)
      }
    }
  }

  private end (how: string): void {
    if (this.ended !== null) return
    this.ended = how
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer)
      waiter.reject(this.failure(waiter.what, how))
    }
    this.waiters.clear()
  }

  private failure (what: string, how: string): Error {
    const tail = this.lines.slice(-20).join('\n')
    return new Error(`${this.name} ${how} before printing ${what}` +
      (tail === '' ? '' : `\nits last stdout lines:\n${tail}`) +
      (this.stderrText === '' ? '' : `\nits stderr:\n${this.stderrText}`))
  }
}

/**
 * Ends a child this test started: `ask` asks it to stop (close its stdin, a signal…);
 * when it has not exited after `graceMs`, it is killed by its PID.
 */
export async function endChild (out: ChildLines, ask: () => void, graceMs = 5000): Promise<void> {
  const child = out.child
  if (child.exitCode !== null || child.signalCode !== null) return
  ask()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>(resolve => { timer = setTimeout(() => resolve('late'), graceMs) })
  const how = await Promise.race([out.exited, late])
  clearTimeout(timer)
  if (how === 'late') {
    child.kill('SIGKILL')
    await out.exited
  }
}

export interface FinishedRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const LEFTOVER_GRACE_MS = 5000

/**
 * True while a process of process group `pgid` runs. Zombies do not count: they have ended,
 * and wait only for whoever adopted them (after their parent exited) to collect them.
 */
function groupAlive (pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
  if (!existsSync('/proc/self/stat')) return true
  return readdirSync('/proc').some(name => {
    if (!/^\d+$/.test(name)) return false
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      return false
    }
    // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(pgrp) === pgid && state !== 'Z'
  })
}

/**
 * Runs a command to its end in a process group of its own, collecting its output. Fails
 * when it runs past `timeoutMs` (the group is then killed), and when any process it started
 * is still there after it exited (those are killed too). After the test, whatever is left
 * of the group is killed, by the group's id.
 */
export async function runToEnd (t: TestContext, command: string, args: readonly string[],
  options: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs: number }): Promise<FinishedRun> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const pgid = child.pid
  if (pgid === undefined) {
    const [err] = await once(child, 'error') as [Error]
    throw new Error(`${command} could not be run: ${err.message}`)
  }
  // Once the group is known to be gone its id may be reused: only an unfinished run is killed.
  let finished = false
  t.after(() => { if (!finished && groupAlive(pgid)) process.kill(-pgid, 'SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>(resolve => { timer = setTimeout(() => resolve('late'), options.timeoutMs) })
  const outcome = await Promise.race([closed, late])
  clearTimeout(timer)
  const what = [command, ...args].join(' ')
  finished = true
  if (outcome === 'late') {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL')
    throw new Error(`${what} ran for more than ${options.timeoutMs} ms and was killed\nstdout:\n${stdout}\nstderr:\n${stderr}`)
  }
  // A helper a process started may take a moment to notice that its parent has gone; the
  // kernel gives no event for a process group becoming empty.
  for (let waited = 0; groupAlive(pgid); waited += 25) {
    if (waited >= LEFTOVER_GRACE_MS) {
      process.kill(-pgid, 'SIGKILL')
      throw new Error(`${what} exited but left processes of its own running for ${LEFTOVER_GRACE_MS} ms (now killed)\nstdout:\n${stdout}\nstderr:\n${stderr}`)
    }
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  const [code, signal] = outcome
  return { code, signal, stdout, stderr }
}
