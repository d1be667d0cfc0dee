/**
 * `npm start`: the lab's Blue and Green upstreams on 127.0.0.1:3001 and :3002, and the
 * gateway in front of them, started exactly as `tollgate start -c gateway.example.yaml`
 * would (signals, reload and pid file included).
 */
import { createServer } from 'node:http'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { main } from '../src/cli/main.js'

async function startExampleUpstream (name: string, port: number): Promise<void> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.setHeader('x-upstream', name)
    res.end(`Response from ${name.toUpperCase()} (${req.method ?? 'GET'} ${req.url ?? '/'})\n`)
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  server.unref()
}

await startExampleUpstream('blue', Number(process.env.BLUE_PORT ?? 3001))
await startExampleUpstream('green', Number(process.env.GREEN_PORT ?? 3002))
const config = fileURLToPath(new URL('../../gateway.example.yaml', import.meta.url))
const code = await main(['start', '-c', config, ...process.argv.slice(2)])
if (code >= 0) process.exit(code)
