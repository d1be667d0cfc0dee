/**
 * Targets listed in a file: one `address[ weight]` a line (`#` starts a comment, blank
 * lines are skipped), or a YAML list shaped like the config's `targets`. The file's folder
 * is watched, not the file: editors and `mv` replace a file by renaming another over it,
 * which a watch on the file itself stops seeing; the interval's poll covers what a watch
 * misses (network file systems, a folder created later). A file that does not parse, or
 * lists nothing (as one half-written may), is refused whole: the last good set stays.
 */
import { readFile } from 'node:fs/promises'
import { existsSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { TargetSpec } from '../upstream/target.js'
import type { TargetConfig } from '../config/schema.js'
import { compileTarget } from '../config/compile.js'
import type { Discovered, DiscoverySource } from './source.js'

const MAX_WEIGHT = 1000
const IPV6_LINE = /^\[[0-9A-Fa-f:.]+\](:\d+)?(\s+\d+)?$/

export class FileSource implements DiscoverySource {
  readonly description: string
  private readonly path: string
  private readonly defaultPort: number

  constructor (path: string, defaultPort: number) {
    this.path = path
    this.defaultPort = defaultPort
    this.description = `file ${path}`
  }

  startNote (): string | null {
    return existsSync(this.path) ? null : `${this.path} does not exist yet: its targets are read once it does`
  }

  async discover (signal: AbortSignal): Promise<Discovered> {
    let text: string
    try {
      text = await readFile(this.path, { encoding: 'utf8', signal })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new Error(code === 'ENOENT' ? `${this.path} does not exist` : `${this.path} cannot be read: ${(err as Error).message}`)
    }
    return { targets: parseTargetFile(text, this.defaultPort), ttlMs: null }
  }

  watch (changed: () => void): () => void {
    const name = basename(this.path)
    let watcher: FSWatcher
    try {
      watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Some platforms give no name: then any change in the folder may be ours.
        if (file === null || file === name) changed()
      })
    } catch {
      // No folder yet (or no watch support): the interval's poll still finds the file.
      return () => undefined
    }
    watcher.on('error', () => watcher.close())
    return () => watcher.close()
  }
}

/** Parses a target file; throws a readable Error naming the line or entry at fault. */
export function parseTargetFile (text: string, defaultPort: number): TargetSpec[] {
  const body = text.replace(/^\uFEFF/, '')
  const first = body.split('\n').map(line => line.replace(/#.*/, '').trim()).find(line => line !== '')
  // A bracket opens both a YAML flow list and an IPv6 address: `[::1]:8080 2` is a line.
  if (first !== undefined && (first.startsWith('-') || (first.startsWith('[') && !IPV6_LINE.test(first)))) return parseYamlList(body, defaultPort)
  const specs: TargetSpec[] = []
  const seen = new Set<string>()
  body.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') return
    const parts = line.split(/\s+/)
    if (parts.length > 2) throw new Error(`line ${i + 1}: "${line}" is not "address[ weight]"`)
    const weight = parts[1] === undefined ? 1 : Number(parts[1])
    if (!Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) throw new Error(`line ${i + 1}: weight "${parts[1] ?? ''}" must be a whole number from 1 to ${MAX_WEIGHT}`)
    add(specs, seen, `line ${i + 1}`, { address: parts[0] as string, weight }, defaultPort)
  })
  return specs
}

function parseYamlList (text: string, defaultPort: number): TargetSpec[] {
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (err) {
    throw new Error(`not a valid YAML list: ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
  if (!Array.isArray(value)) throw new Error('not a YAML list of targets')
  const specs: TargetSpec[] = []
  const seen = new Set<string>()
  value.forEach((entry: unknown, i) => add(specs, seen, `entry ${i + 1}`, asTarget(entry, i), defaultPort))
  return specs
}

function asTarget (entry: unknown, i: number): TargetConfig {
  if (typeof entry === 'string' && entry !== '') return entry
  if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
    const { address, socketPath, weight, ...rest } = entry as Record<string, unknown>
    const extra = Object.keys(rest)
    const weightOk = weight === undefined || (Number.isInteger(weight) && (weight as number) >= 1 && (weight as number) <= MAX_WEIGHT)
    if (extra.length === 0 && weightOk) {
      if (typeof address === 'string' && address !== '' && socketPath === undefined) return weight === undefined ? { address } : { address, weight: weight as number }
      if (typeof socketPath === 'string' && socketPath !== '' && address === undefined) return weight === undefined ? { socketPath } : { socketPath, weight: weight as number }
    }
  }
  throw new Error(`entry ${i + 1}: must be "host:port", { address, weight } or { socketPath, weight } (weight 1 to ${MAX_WEIGHT})`)
}

function add (specs: TargetSpec[], seen: Set<string>, where: string, target: TargetConfig, defaultPort: number): void {
  let spec: TargetSpec
  try {
    spec = compileTarget(target, defaultPort, false)
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`)
  }
  if (seen.has(spec.address.id)) throw new Error(`${where}: ${spec.address.id} is listed twice`)
  seen.add(spec.address.id)
  specs.push(spec)
}
