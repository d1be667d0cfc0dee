import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startCli, listeningPort } from '../helpers/cli.js'
import { startOrigin } from '../helpers/origin.js'

function rssBytes (pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:'))
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024
}

test('20 000 requests through one route grow the gateway\'s RSS by less than 50 MB after warm-up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-mem-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const up = await startOrigin(t, 'up', { handler: (_req, res) => res.end('x'.repeat(512)) })
  up.received.length = 0
  writeFileSync(join(dir, 'g.yaml'), `
server: { listen: [{ host: 127.0.0.1, port: 0 }], accessLog: false }
upstreams: { up: { targets: ["${up.address}"] } }
routes: [{ name: r, upstream: up, requestHeaders: { set: { x-proxy: tollgate } } }]
`)
  const cli = startCli(t, ['start', '-c', join(dir, 'g.yaml')])
  const port = await listeningPort(cli)
  const pid = cli.child.pid as number
  const agent = new Agent({ connections: 20 })
  t.after(() => agent.close())
  const run = async (count: number): Promise<void> => {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++
        const res = await request(`http://127.0.0.1:${port}/item/${next % 100}?q=${next}`, { dispatcher: agent })
        await res.body.text()
        assert.equal(res.statusCode, 200)
      }
    }
    await Promise.all(Array.from({ length: 20 }, worker))
    // The received log would itself grow with every request; only the gateway is measured.
    up.received.length = 0
  }
  await run(3000)
  const before = rssBytes(pid)
  await run(20_000)
  const after = rssBytes(pid)
  const grownMb = (after - before) / 1024 / 1024
  assert.ok(grownMb < 50, `RSS grew by ${grownMb.toFixed(1)} MB (${(before / 1048576).toFixed(0)} → ${(after / 1048576).toFixed(0)} MB)`)
  cli.child.kill('SIGTERM')
  await cli.exited
})
