/**
 * A real redis-server for a test, on a loopback port reserved for the whole test (so it can
 * be stopped and started again on the same port), with no persistence. It is stopped by
 * its PID (never by name) after the test; `kill()`, `freeze()`/`thaw()` and `start()`
 * let a test take it away mid-run and bring it back.
 */
import { spawn } from 'node:child_process'
import type { TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { ChildLines, endChild } from './child.js'
import { reservedPorts } from './ports.js'
import { tempFolder } from './files.js'

/** Found on the PATH (.ci/run installs it when missing); TOLLGATE_TEST_REDIS_SERVER names another. */
export const REDIS_SERVER = process.env.TOLLGATE_TEST_REDIS_SERVER ?? 'redis-server'

export interface TestRedis {
  readonly port: number
  readonly url: string
  /** The running server's PID, or null while stopped. */
  readonly pid: number | null
  /** Starts the server (again) on the same port; resolves when it accepts connections. */
  start (): Promise<void>
  /** SIGKILL: Redis dies at once, as on a crash; resolves when it has exited. */
  kill (): Promise<void>
  /** SIGSTOP: Redis stops answering but keeps its connections open. */
  freeze (): void
  /** SIGCONT. */
  thaw (): void
  /** A plain client to read what the gateway wrote (closed after the test). */
  client (): Redis
}

export async function startRedis (t: TestContext): Promise<TestRedis> {
  const [port] = await reservedPorts(t, 1) as [number]
  // Its working folder: nothing is saved, but nothing it might write lands in the repository.
  const dir = tempFolder(t, 'tollgate-redis-')
  let running: ChildLines | null = null
  const clients: Redis[] = []
  const stop = async (): Promise<void> => {
    const out = running
    running = null
    if (out === null) return
    out.child.kill('SIGCONT')
    await endChild(out, () => out.child.kill('SIGTERM'), 3000)
  }
  const server: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid () { return running?.child.pid ?? null },
    async start () {
      if (running !== null) throw new Error('redis-server is already running')
      const child = spawn(REDIS_SERVER, [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--daemonize', 'no', '--loglevel', 'notice', '--logfile', '', '--dir', dir
      ], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
      const out = new ChildLines(child, 'redis-server')
      running = out
      await out.waitFor(line => line.includes('Ready to accept connections'), 'that it is ready', 10_000)
    },
    async kill () {
      const out = running
      running = null
      if (out === null) return
      out.child.kill('SIGKILL')
      await out.exited
    },
    freeze () {
      running?.child.kill('SIGSTOP')
    },
    thaw () {
      running?.child.kill('SIGCONT')
    },
    client () {
      const client = new Redis(server.url, { maxRetriesPerRequest: 1, connectTimeout: 1000, commandTimeout: 2000 })
      client.on('error', () => undefined)
      clients.push(client)
      return client
    }
  }
  t.after(async () => {
    for (const client of clients) client.disconnect()
    await stop()
  })
  await server.start()
  return server
}
