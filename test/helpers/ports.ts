/**
 * Ports that stay as the test needs them for the whole test, even while other test files
 * run in parallel (see ports.py): a port freed and hoped to stay free could be taken by
 * any other test in between. Released after the test.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { ChildLines, endChild } from './child.js'

async function holdPorts (t: TestContext, mode: 'refuse' | 'reserve', count: number): Promise<number[]> {
  const script = fileURLToPath(new URL('./ports.py', import.meta.url))
  const child = spawn('python3', [script, mode, String(count)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const out = new ChildLines(child, `ports.py ${mode}`)
  t.after(async () => { await endChild(out, () => child.stdin.end()) })
  const line = await out.waitFor(() => true, 'its ports', 10_000)
  const ports = line.trim().split(' ').map(Number)
  if (ports.length !== count || !ports.every(p => Number.isInteger(p) && p > 0)) throw new Error(`ports.py printed ${line}`)
  return ports
}

/** Ports where connections are refused at once, for the whole test. */
export async function refusedPorts (t: TestContext, count: number): Promise<number[]> {
  return await holdPorts(t, 'refuse', count)
}

/** A port where connections are refused at once, for the whole test. */
export async function refusedPort (t: TestContext): Promise<number> {
  return (await holdPorts(t, 'refuse', 1))[0] as number
}

/**
 * Ports no other test can be given, which a server of this test can then listen on by
 * number (Node binds with SO_REUSEADDR). Until it does, connections to them are refused.
 */
export async function reservedPorts (t: TestContext, count: number): Promise<number[]> {
  return await holdPorts(t, 'reserve', count)
}
