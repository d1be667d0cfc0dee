/**
 * A black-holed TCP port (see blackhole.py): connecting to it hangs, so connect timeouts
 * can be tested on loopback. The helper process ends when the test does.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { ChildLines, endChild } from './child.js'

export async function startBlackhole (t: TestContext): Promise<{ port: number, address: string }> {
  const script = fileURLToPath(new URL('./blackhole.py', import.meta.url))
  const child = spawn('python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] })
  const out = new ChildLines(child, 'blackhole.py')
  t.after(async () => { await endChild(out, () => child.stdin.end()) })
  const line = await out.waitFor(() => true, 'its port', 10_000)
  const port = Number(line.trim())
  if (!Number.isInteger(port) || port <= 0) throw new Error(`blackhole helper printed ${line}`)
  return { port, address: `127.0.0.1:${port}` }
}
