/** Starts origin-process.mjs as a child process: an upstream a test can kill or freeze. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import type { TestContext } from 'node:test'

export interface ChildOrigin {
  readonly port: number
  readonly address: string
  readonly process: ChildProcess
}

export async function startChildOrigin (t: TestContext, name: string, delayMs = 0): Promise<ChildOrigin> {
  const script = fileURLToPath(new URL('./origin-process.mjs', import.meta.url))
  const child = spawn(process.execPath, [script, name, String(delayMs)], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const [line] = await once(child.stdout as NodeJS.ReadableStream, 'data') as [Buffer]
  const port = Number(line.toString().trim())
  return { port, address: `127.0.0.1:${port}`, process: child }
}
