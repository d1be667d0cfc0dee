/**
 * Targets from the Docker Engine API, over its Unix socket: running containers carrying
 * every configured label, each at its address on the configured network (or its only
 * network) and at the port of its `tollgate.port` label, else the configured port; a
 * `tollgate.weight` label sets its weight. A container without a usable address or port
 * is left out; an answer that is not the Engine API's JSON is refused whole.
 */
import { request } from 'node:http'
import type { TargetSpec } from '../upstream/target.js'
import { formatHostPort } from '../net/address.js'
import type { Discovered, DiscoverySource } from './source.js'

export interface DockerSourceOptions {
  readonly socketPath: string
  readonly labels: Readonly<Record<string, string>>
  readonly port: number | null
  readonly network: string | null
}

export const PORT_LABEL = 'tollgate.port'
export const WEIGHT_LABEL = 'tollgate.weight'
/** The list of a few thousand containers is well under this; more means a wrong answer. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024
const MAX_WEIGHT = 1000

export class DockerSource implements DiscoverySource {
  readonly description: string
  private readonly options: DockerSourceOptions
  private readonly path: string

  constructor (options: DockerSourceOptions) {
    this.options = options
    const label = Object.entries(options.labels).map(([k, v]) => `${k}=${v}`)
    this.path = `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label, status: ['running'] }))}`
    this.description = `docker ${options.socketPath} ${label.join(',')}`
  }

  async discover (signal: AbortSignal): Promise<Discovered> {
    const body = await this.get(signal)
    let containers: unknown
    try {
      containers = JSON.parse(body)
    } catch {
      throw new Error('the Engine API answered with something that is not JSON')
    }
    if (!Array.isArray(containers)) throw new Error('the Engine API answered with something that is not a list of containers')
    const targets: TargetSpec[] = []
    const seen = new Set<string>()
    for (const container of containers) {
      const spec = this.targetOf(container)
      if (spec === null || seen.has(spec.address.id)) continue
      seen.add(spec.address.id)
      targets.push(spec)
    }
    return { targets, ttlMs: null }
  }

  private targetOf (container: unknown): TargetSpec | null {
    if (!isRecord(container)) return null
    const labels = isRecord(container.Labels) ? container.Labels : {}
    const settings = isRecord(container.NetworkSettings) ? container.NetworkSettings : {}
    const networks = isRecord(settings.Networks) ? settings.Networks : {}
    const names = Object.keys(networks)
    const network = this.options.network ?? (names.length === 1 ? names[0] : undefined)
    const endpoint = network === undefined ? undefined : networks[network]
    const ip = isRecord(endpoint) && typeof endpoint.IPAddress === 'string' ? endpoint.IPAddress : ''
    if (ip === '') return null
    const labelled = typeof labels[PORT_LABEL] === 'string' ? Number(labels[PORT_LABEL]) : null
    const port = labelled ?? this.options.port
    if (port === null || !Number.isInteger(port) || port < 1 || port > 65535) return null
    const weightLabel = typeof labels[WEIGHT_LABEL] === 'string' ? Number(labels[WEIGHT_LABEL]) : 1
    const weight = Number.isInteger(weightLabel) ? Math.min(MAX_WEIGHT, Math.max(1, weightLabel)) : 1
    return { address: { kind: 'tcp', host: ip, port, id: formatHostPort(ip, port) }, weight, backup: false }
  }

  private async get (signal: AbortSignal): Promise<string> {
    return await new Promise((resolve, reject) => {
      const req = request({ socketPath: this.options.socketPath, path: this.path, method: 'GET', headers: { host: 'docker' }, signal }, (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new Error(`the Engine API's answer is larger than ${MAX_ANSWER_BYTES} bytes`))
            return
          }
          chunks.push(chunk)
        })
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          if (res.statusCode === 200) resolve(text)
          else reject(new Error(`the Engine API answered ${res.statusCode ?? 0}: ${text.slice(0, 200).trim()}`))
        })
      })
      req.on('error', (err) => reject(new Error(`the Engine API at ${this.options.socketPath} cannot be reached: ${err.message}`)))
      req.end()
    })
  }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
