/**
 * A black-holed TCP port (see blackhole.py): connecting to it hangs, so connect timeouts
 * can be tested on loopback. The helper process ends when the test does.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { once } from 'node:events'

export async function startBlackhole (t: TestContext): Promise<{ port: number, address: string }> {
  const script = fileURLToPath(new URL('./blackhole.py', import.meta.url))
  const child = spawn('python3', [script], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => { child.stdin.end(); child.kill() })
  const [line] = await once(child.stdout, 'data') as [Buffer]
  const port = Number(line.toString().trim())
  if (!Number.isInteger(port) || port <= 0) throw new Error(`blackhole helper printed ${line.toString()}`)
  return { port, address: `127.0.0.1:${port}` }
}
