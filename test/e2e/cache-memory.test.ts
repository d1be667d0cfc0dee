/**
 * The memory store's bound, seen from outside: 100 000 distinct URLs through a gateway
 * process whose store holds 10 MB. Its RSS after the first 20 000 (the store long full)
 * grows by no more than the store's bound plus a constant (50 MB) over the next 80 000; kept
 * without eviction they would take over 130 MB.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startCli, listeningPort } from '../helpers/cli.js'
import { tempFolder } from '../helpers/files.js'

const BODY = Buffer.alloc(1024, 'c')
const BOUND = 10 * 1024 * 1024
/** What else may grow meanwhile: V8's young generation settling, allocator slack (12-33 MB measured). */
const CONSTANT = 50 * 1024 * 1024

function rssBytes (pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:'))
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024
}

test('100 000 distinct URLs through a 10 MB memory store keep the gateway\'s RSS within the bound plus a constant', async (t) => {
  // A plain origin: the test helpers' one records every request, 100 000 of them here.
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': BODY.length })
    res.end(BODY)
  })
  origin.listen(0, '127.0.0.1')
  await once(origin, 'listening')
  t.after(() => { origin.closeAllConnections(); origin.close() })
  const dir = tempFolder(t, 'tollgate-cache-mem-')
  writeFileSync(join(dir, 'g.yaml'), `
server: { listen: [{ host: 127.0.0.1, port: 0 }], accessLog: false }
cache: { maxSize: 10mb }
upstreams: { up: { targets: ["127.0.0.1:${(origin.address() as AddressInfo).port}"] } }
routes: [{ name: r, upstream: up, cache: {} }]
`)
  const cli = startCli(t, ['start', '-c', join(dir, 'g.yaml')])
  const port = await listeningPort(cli)
  const pid = cli.child.pid as number
  const agent = new Agent({ connections: 32 })
  t.after(() => agent.close())
  let sent = 0
  const fill = async (until: number): Promise<void> => {
    const lane = async (): Promise<void> => {
      while (sent < until) {
        const n = sent++
        const res = await request(`http://127.0.0.1:${port}/item/${n}`, { dispatcher: agent })
        await res.body.dump()
        assert.equal(res.statusCode, 200)
      }
    }
    await Promise.all(Array.from({ length: 32 }, lane))
  }
  await fill(20_000)
  const settled = rssBytes(pid)
  await fill(60_000)
  const middle = rssBytes(pid)
  await fill(100_000)
  const grown = rssBytes(pid) - settled
  t.diagnostic(`RSS ${(settled / 1048576).toFixed(1)} MB at 20 000, ${(middle / 1048576).toFixed(1)} at 60 000, grew by ${(grown / 1048576).toFixed(1)} MB`)
  assert.ok(grown <= BOUND + CONSTANT, `RSS grew by ${(grown / 1048576).toFixed(1)} MB over 80 000 more URLs`)
  const last = await request(`http://127.0.0.1:${port}/item/99999`, { dispatcher: agent })
  await last.body.dump()
  assert.equal(last.headers['x-cache-status'], 'HIT', 'the newest entries are kept')
  const first = await request(`http://127.0.0.1:${port}/item/0`, { dispatcher: agent })
  await first.body.dump()
  assert.equal(first.headers['x-cache-status'], 'MISS', 'the oldest were evicted')
})
