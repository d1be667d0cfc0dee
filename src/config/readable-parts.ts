/**
 * The parts of a refused config that can still be checked: so that one run of `tollgate
 * validate` reports a route naming a missing upstream beside a misspelt key elsewhere,
 * instead of the reference only once the shape is right. A part is one route, one
 * upstream, or one top-level section; a part with any problem is left out whole, since
 * compile may only read values the schema accepted.
 */
import type { ConfigIssue } from './errors.js'
import type { GatewayFileConfig } from './schema.js'

export interface ReadableParts {
  /** The config without its refused parts; refused routes are holes, so indexes stay. */
  readonly config: GatewayFileConfig
  /**
   * Whether a compile issue is about a stand-in (see `standIns`) rather than the file:
   * such issues are dropped, the part's own problems being already reported.
   */
  readonly isAboutStandIn: (issue: ConfigIssue) => boolean
}

/**
 * What stands in for a refused upstream or `redis`: a part others refer to by name, so
 * that a route naming it is not also told it is missing.
 */
const standIns = {
  upstream: { targets: ['127.0.0.1:1'] },
  redis: { url: 'redis://127.0.0.1' }
} as const

/**
 * `config` (substituted, schema-checked) without the parts `issues` are about; null when
 * nothing can be checked: the file as a whole, or all its upstreams, are unreadable.
 */
export function readableParts (config: Readonly<Record<string, unknown>>, issues: readonly ConfigIssue[]): ReadableParts | null {
  const refusedRoutes = new Set<number>()
  const refusedUpstreams = new Set<string>()
  const refusedSections = new Set<string>()
  for (const { path } of issues) {
    const part = partOf(path)
    if (part === null) return null
    if (part.kind === 'route') refusedRoutes.add(part.index)
    else if (part.kind === 'upstream') refusedUpstreams.add(part.name)
    else refusedSections.add(part.name)
  }
  if (refusedSections.has('upstreams')) return null
  const readable: Record<string, unknown> = {}
  for (const section of ['server', 'admin', 'redis'] as const) {
    if (config[section] === undefined) continue
    if (!refusedSections.has(section)) readable[section] = config[section]
    else if (section === 'redis') readable.redis = standIns.redis
  }
  if (config.upstreams !== undefined) {
    const upstreams: Record<string, unknown> = {}
    for (const [name, upstream] of Object.entries(config.upstreams as Record<string, unknown>)) {
      upstreams[name] = refusedUpstreams.has(name) ? standIns.upstream : upstream
    }
    // A name the schema refused (`upstreams["a b"]`) is still a name routes may use.
    for (const name of refusedUpstreams) upstreams[name] ??= standIns.upstream
    readable.upstreams = upstreams
  }
  if (Array.isArray(config.routes) && !refusedSections.has('routes')) {
    const routes: unknown[] = []
    config.routes.forEach((route: unknown, index) => {
      if (!refusedRoutes.has(index)) routes[index] = route
    })
    // Holes keep every route at its index, so that its issues name the right one.
    routes.length = config.routes.length
    readable.routes = routes
  }
  const isAboutStandIn = (issue: ConfigIssue): boolean => {
    const part = partOf(issue.path)
    if (part === null) return false
    if (part.kind === 'upstream') return refusedUpstreams.has(part.name)
    return part.kind === 'section' && part.name === 'redis' && refusedSections.has('redis')
  }
  return { config: readable as GatewayFileConfig, isAboutStandIn }
}

type Part =
  | { readonly kind: 'route', readonly index: number }
  | { readonly kind: 'upstream', readonly name: string }
  | { readonly kind: 'section', readonly name: string }

/** The part an issue's path (`routes[2].auth`, `upstreams["a b"].targets`) is within; null: the whole file. */
function partOf (path: string): Part | null {
  const route = /^routes\[(\d+)\]/.exec(path)
  if (route !== null) return { kind: 'route', index: Number(route[1]) }
  const upstream = /^upstreams(?:\.([A-Za-z_$][\w$-]*)|\[("(?:[^"\\]|\\.)*")\])/.exec(path)
  if (upstream !== null) return { kind: 'upstream', name: upstream[1] ?? JSON.parse(upstream[2] ?? '""') as string }
  const section = /^[A-Za-z_$][\w$-]*/.exec(path)
  if (section === null) return null
  return { kind: 'section', name: section[0] }
}
