/** Starts origin-process.mjs as a child process: an upstream a test can kill or freeze. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { ChildLines, endChild, type ChildExit } from './child.js'

export interface ChildOrigin {
  readonly port: number
  readonly address: string
  readonly process: ChildProcess
  /** Resolves when the process has exited. */
  readonly exited: Promise<ChildExit>
  /** How many requests have arrived so far (answered or not). */
  requests (): number
  /** Resolves once `count` requests have arrived; fails if the process ends first or after `timeoutMs`. */
  waitForRequests (count: number, timeoutMs?: number): Promise<void>
}

/**
 * `delayMs`: how long each request is held before it is answered. `listenOn`: listen there (a
 * port from `reservedPorts`, so that a restart gets it back), or 0 for an ephemeral one.
 */
export async function startChildOrigin (t: TestContext, name: string, delayMs = 0, listenOn = 0): Promise<ChildOrigin> {
  const script = fileURLToPath(new URL('./origin-process.mjs', import.meta.url))
  const child = spawn(process.execPath, [script, name, String(delayMs), String(listenOn)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const out = new ChildLines(child, `origin process ${name}`)
  t.after(async () => { await endChild(out, () => child.stdin?.end()) })
  let arrived = 0
  out.onLine(line => { if (line.startsWith('request ')) arrived++ })
  const line = await out.waitFor(l => l.startsWith('listening '), 'its port', 10_000)
  const port = Number(line.slice('listening '.length))
  return {
    port,
    address: `127.0.0.1:${port}`,
    process: child,
    exited: out.exited,
    requests: () => arrived,
    waitForRequests: async (count, timeoutMs = 10_000) => {
      let seen = 0
      await out.waitFor(l => l.startsWith('request ') && ++seen >= count, `${count} requests`, timeoutMs)
    }
  }
}
