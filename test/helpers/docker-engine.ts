/**
 * A stand-in for the Docker Engine API (there is no Docker here): `GET /containers/json`
 * on a Unix socket, answering with the Engine's JSON shape (API v1.43+) and applying the
 * `label` and `status` filters as the Engine does. `garbage` makes it answer with
 * something that is not that shape.
 */
import { createServer } from 'node:http'
import { once } from 'node:events'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { tempFolder } from './files.js'

export interface FakeContainer {
  readonly id: string
  readonly labels: Record<string, string>
  /** Network name → the container's IPv4 address on it. */
  readonly networks: Record<string, string>
  readonly state?: 'running' | 'exited'
}

export interface TestEngine {
  readonly socketPath: string
  containers: FakeContainer[]
  /** When set, the raw body of every answer (status 200). */
  garbage: string | null
  /** The request paths received, in order. */
  readonly requests: string[]
}

function containerJson (c: FakeContainer): Record<string, unknown> {
  return {
    Id: c.id.padEnd(64, '0'),
    Names: [`/${c.id}`],
    Image: 'example/app:1',
    ImageID: 'sha256:' + 'a'.repeat(64),
    Command: 'node server.js',
    Created: 1_764_000_000,
    Ports: [{ PrivatePort: 8080, Type: 'tcp' }],
    Labels: c.labels,
    State: c.state ?? 'running',
    Status: 'Up 5 minutes',
    HostConfig: { NetworkMode: Object.keys(c.networks)[0] ?? 'none' },
    NetworkSettings: {
      Networks: Object.fromEntries(Object.entries(c.networks).map(([name, ip]) => [name, {
        IPAMConfig: null,
        Links: null,
        Aliases: null,
        MacAddress: '02:42:ac:11:00:02',
        NetworkID: 'n'.repeat(64),
        EndpointID: 'e'.repeat(64),
        Gateway: '172.17.0.1',
        IPAddress: ip,
        IPPrefixLen: 16,
        IPv6Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        DriverOpts: null,
        DNSNames: null
      }]))
    },
    Mounts: []
  }
}

export async function startDockerEngine (t: TestContext): Promise<TestEngine> {
  const socketPath = join(tempFolder(t, 'tollgate-docker-'), 'docker.sock')
  const engine: TestEngine = { socketPath, containers: [], garbage: null, requests: [] }
  const server = createServer((req, res) => {
    engine.requests.push(req.url ?? '')
    const url = new URL(req.url ?? '/', 'http://docker')
    if (req.method !== 'GET' || !/^(\/v[\d.]+)?\/containers\/json$/.test(url.pathname)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'page not found' }))
      return
    }
    if (engine.garbage !== null) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(engine.garbage)
      return
    }
    let filters: { label?: string[], status?: string[] } = {}
    try {
      filters = JSON.parse(url.searchParams.get('filters') ?? '{}') as typeof filters
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'invalid filter' }))
      return
    }
    const matches = engine.containers.filter(c =>
      (filters.status === undefined || filters.status.includes(c.state ?? 'running')) &&
      (filters.label ?? []).every(wanted => {
        const eq = wanted.indexOf('=')
        return eq < 0 ? wanted in c.labels : c.labels[wanted.slice(0, eq)] === wanted.slice(eq + 1)
      }))
    res.writeHead(200, { 'content-type': 'application/json', 'api-version': '1.47' }).end(JSON.stringify(matches.map(containerJson)))
  })
  server.listen(socketPath)
  await once(server, 'listening')
  t.after(async () => {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return engine
}
