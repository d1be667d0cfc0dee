/** The pid file: written when the gateway starts, removed when it exits, read by reload/stop. */
import { readFileSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export function writePidFile (file: string, pid = process.pid): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${pid}\n`)
}

/** Removes the pid file if it still names this process (a newer instance may own it). */
export function removePidFile (file: string, pid = process.pid): void {
  try {
    if (readPidFile(file) === pid) unlinkSync(file)
  } catch {}
}

export function readPidFile (file: string): number {
  let text: string
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch (err) {
    throw new Error(`cannot read pid file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  const pid = Number(text)
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`pid file ${file} does not hold a process id`)
  return pid
}

/** True while a process with this pid exists and has not exited (a zombie has). */
export function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // An exited process whose parent has not reaped it still answers kill(pid, 0).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}
