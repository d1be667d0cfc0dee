/**
 * Turns a validated config into the frozen structures the gateway runs on: durations in
 * milliseconds, sizes in bytes, addresses parsed, patterns and header rules compiled into
 * closures, files (certificates) read. Also the checks JSON Schema cannot express: a
 * route naming a missing upstream, a bad CIDR or regex, an upstream without targets. Every
 * problem is collected as a `path: message` issue; nothing here runs per request.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { AdminConfig, GatewayFileConfig, MetricsConfig, HeaderRulesConfig, ListenConfig, RetriesConfig, RouteFileConfig, ServerConfig, TargetConfig, UpstreamConfig } from './schema.js'
import { IssueList, joinPath } from './errors.js'
import { parseDuration, parseSize } from './units.js'
import { cookieNameProblem, headerNameProblem, headerValueProblem } from './http-names.js'
import { parseHostPort, formatHostPort, isLoopbackHost } from '../net/address.js'
import { compileDiscovery, type CompiledDiscovery } from '../discovery/config.js'
import { parseCidr } from '../net/cidr.js'
import type { TargetSpec } from '../upstream/target.js'
import { parseProxyUrl, type CompiledProxy } from '../upstream/forward-proxy.js'
import type { BalancerOptions, HashKey } from '../upstream/balancer/index.js'
import type { RouteHooks } from '../hooks.js'
import { compilePathPattern, type RouteMatchSpec } from '../routing/matcher.js'
import { compilePathRewrite, compileQueryRewrite } from '../routing/rewrite.js'
import { compileHeaderRules, type HeaderRules } from '../routing/header-rules.js'
import { compileConcurrency, compileInspect, compileIpFilter, compileRateLimit, type CompiledConcurrency, type CompiledInspect, type CompiledIpFilter, type CompiledRateLimit } from '../limits/config.js'
import { compileAuth, type CompiledAuth } from '../auth/config.js'
import { compileCache, compileRouteCache, type CompiledCache, type CompiledRouteCache } from '../cache/config.js'
import { DEFAULT_REDACTED_QUERY } from '../log/redact.js'
import { REDIS_COMMAND_TIMEOUT_MS } from '../stores/redis.js'
import type { AuthRegistry } from '../auth/custom.js'
import { compileHealth, type CompiledHealth } from '../health/config.js'
import { certificatePairProblems } from './certificates.js'
import type { HealthCheckRegistry } from '../health/define.js'

export interface CompiledTlsCert {
  readonly cert: Buffer
  readonly key: Buffer
}

export interface CompiledListener {
  /** Identity across reloads: a listener with the same key keeps its socket. */
  readonly key: string
  readonly host: string
  readonly port: number
  readonly tls: { readonly certs: readonly CompiledTlsCert[] } | null
  /** h2 by ALPN beside HTTP/1.1 (TLS listeners only). */
  readonly http2: boolean
}

export interface CompiledLimits {
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly maxHeaderSize: number
  /** Request header lines (name: value pairs) a request may carry. */
  readonly maxHeaders: number
  /** Open client connections per listener. */
  readonly maxConnections: number
  readonly bodyLimit: number
}

export interface CompiledServer {
  readonly listeners: readonly CompiledListener[]
  readonly workers: number
  readonly trustProxy: boolean | readonly string[]
  readonly gracefulShutdownMs: number
  readonly daemon: boolean
  readonly pidFile: string | null
  readonly logFile: string | null
  readonly logLevel: string
  readonly logFormat: 'json' | 'pretty'
  readonly accessLog: boolean
  /** Query parameter names (lowercase) whose values never reach a log line. */
  readonly redactQuery: readonly string[]
  /** Forward request headers whose names contain `_` (they alias real ones in CGI/WSGI). */
  readonly underscoresInHeaders: boolean
  /** What carries HTTP/1.1 requests upstream. */
  readonly engine: 'undici' | 'reply-from'
  readonly limits: CompiledLimits
}

export interface RetryPolicy {
  /** Extra tries after the first one. */
  readonly attempts: number
  readonly onConnectError: boolean
  readonly statuses: ReadonlySet<number>
  readonly methods: ReadonlySet<string>
}

export interface CompiledUpstreamTls {
  readonly servername: string | null
  readonly ca: Buffer | null
  readonly cert: Buffer | null
  readonly key: Buffer | null
  readonly verify: boolean
}

export interface CompiledUpstream {
  readonly name: string
  /**
   * Equal fingerprints mean an unchanged upstream: a reload keeps its pools and state. The
   * health settings are left out (they have `health.fingerprint`): changing them restarts
   * the probes only.
   */
  readonly fingerprint: string
  readonly targets: readonly TargetSpec[]
  readonly balancer: BalancerOptions
  readonly tls: CompiledUpstreamTls | null
  /** The CONNECT proxy every target is reached through, or null for direct connections. */
  readonly proxy: CompiledProxy | null
  /** What carries requests to the targets: HTTP/1.1, HTTP/2 over TLS, or cleartext HTTP/2. */
  readonly protocol: 'http1' | 'h2' | 'h2c'
  readonly timeouts: { readonly connectMs: number, readonly responseMs: number, readonly idleMs: number }
  readonly pool: { readonly connections: number | null, readonly keepAliveMs: number }
  readonly retries: RetryPolicy
  /** Active checks, passive ejection and the webhook; kept apart from `fingerprint`. */
  readonly health: CompiledHealth
  /**
   * Where more targets come from, or null. Part of `fingerprint`: a reload that changes it
   * rebuilds the upstream (its source stops with the old one); one that does not keeps the
   * running source and the set it found.
   */
  readonly discovery: CompiledDiscovery | null
}

export type PathRewrite = ReturnType<typeof compilePathRewrite>
export type { HeaderRules }

export interface CompiledRoute {
  readonly index: number
  readonly name: string
  readonly match: RouteMatchSpec
  /** The upstream's name, or null for a transparent route. */
  readonly upstream: string | null
  readonly transparent: boolean
  readonly rewritePath: PathRewrite
  /** null: the query passes through untouched. */
  readonly rewriteQuery: ((query: string) => string) | null
  readonly requestHeaders: HeaderRules | null
  readonly responseHeaders: HeaderRules | null
  /** idleMs: how long an upgraded WebSocket connection may carry nothing. */
  readonly timeouts: { readonly connectMs: number, readonly responseMs: number, readonly idleMs: number }
  /** Accepts `Upgrade: websocket`. */
  readonly websocket: boolean
  readonly retries: RetryPolicy
  readonly hooks: Readonly<RouteHooks>
  /** request_filter and request_body_filter checks; null where the route has none. */
  readonly ipFilter: CompiledIpFilter | null
  readonly auth: CompiledAuth | null
  readonly rateLimit: CompiledRateLimit | null
  readonly concurrency: CompiledConcurrency | null
  /** The route's bodyLimit, or server.limits.bodyLimit. */
  readonly bodyLimit: number
  readonly inspect: CompiledInspect | null
  /** The route's HTTP cache policy; null: responses are never stored. */
  readonly cache: CompiledRouteCache | null
}

export interface CompiledGateway {
  /** The config as loaded (env substituted, hooks removed), frozen: what admin GET /config shows. */
  readonly source: Readonly<GatewayFileConfig>
  readonly server: CompiledServer
  readonly upstreams: ReadonlyMap<string, CompiledUpstream>
  readonly routes: readonly CompiledRoute[]
  /** `redis`, when given: what `store: redis` uses. */
  readonly redis: CompiledRedis | null
  /** The admin API listener, or null when the config has no `admin`. */
  readonly admin: CompiledAdmin | null
  /** The Prometheus metrics listener, or null when the config has no `metrics`. */
  readonly metrics: CompiledMetrics | null
  /** Where cached responses are kept (the defaults when the config has no `cache`). */
  readonly cache: CompiledCache
}

export interface CompiledMetrics {
  readonly host: string
  readonly port: number
  /** Where the text is served; any other path answers 404. */
  readonly path: string
}

export interface CompiledAdmin {
  readonly host: string
  readonly port: number
  /** null: requests need no token (allowed on loopback only). */
  readonly token: string | null
}

export const DEFAULTS = Object.freeze({
  listen: { host: '0.0.0.0', port: 8080 },
  adminListen: { host: '127.0.0.1', port: 9090 },
  metricsListen: { host: '127.0.0.1', port: 9091 },
  metricsPath: '/metrics',
  gracefulShutdownMs: 30_000,
  logLevel: 'info',
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  maxHeaderSize: 16 * 1024,
  maxHeaders: 100,
  maxConnections: 10_000,
  bodyLimit: 10 * 1024 * 1024,
  connectMs: 5_000,
  responseMs: 60_000,
  idleMs: 60_000,
  keepAliveMs: 30_000,
  retryAttempts: 1,
  retryMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'],
  stickyCookie: 'tollgate_session',
  stickyTtlMs: 3_600_000
})

/**
 * Bounds of `server.limits.maxHeaderSize`. Node accepts any size up to 2^53 − 1 and
 * serves requests under it, but a connection buffers its whole header block before the
 * limit refuses it: a cap of 1 MiB keeps a client from holding more than that per
 * connection (nginx's largest default buffers are 4 × 8 KiB; Node's default is 16 KiB).
 * Below 1 KiB ordinary requests would be refused with 431.
 */
export const MIN_HEADER_SIZE = 1024
export const MAX_HEADER_SIZE = 1024 * 1024

export interface CompileOptions {
  /** Relative file paths (certificates) are resolved against this folder. */
  readonly baseDir: string
  /** Hooks of TypeScript routes, by route index. */
  readonly hooks?: ReadonlyMap<number, RouteHooks>
  /** The custom auth hooks (`defineAuth`) the modules of this load registered. */
  readonly auth?: AuthRegistry
  /** The custom health checks (`defineHealthCheck`) of this load. */
  readonly healthChecks?: HealthCheckRegistry
}

/** Compiles a schema-valid config; throws ConfigError listing every problem. */
export function compileGateway (config: GatewayFileConfig, options: CompileOptions): CompiledGateway {
  const issues = new IssueList()
  const server = compileServer(config.server ?? {}, options.baseDir, issues)
  const upstreams = new Map<string, CompiledUpstream>()
  for (const [name, upstream] of Object.entries(config.upstreams ?? {})) {
    const compiled = compileUpstream(name, upstream, options, issues)
    if (compiled !== undefined) upstreams.set(name, compiled)
  }
  const routes: CompiledRoute[] = []
  const names = new Set<string>()
  ;(config.routes ?? []).forEach((route, index) => {
    const path = joinPath('routes', index)
    if (names.has(route.name)) issues.add(joinPath(path, 'name'), `duplicate route name "${route.name}"`)
    names.add(route.name)
    const compiled = compileRoute(route, index, path, config.upstreams ?? {}, upstreams, options.hooks?.get(index), server, options, issues)
    if (compiled?.rateLimit?.store === 'redis' && config.redis === undefined) {
      issues.add(joinPath(joinPath(path, 'rateLimit'), 'store'), 'redis needs the top-level redis.url')
    }
    if (compiled !== undefined) routes.push(compiled)
  })
  const redis = config.redis === undefined ? null : compileRedis(config.redis, issues)
  const admin = config.admin === undefined ? null : compileAdmin(config.admin, issues)
  const metrics = config.metrics === undefined ? null : compileMetrics(config.metrics)
  const cache = compileCache(config.cache, issues)
  if (cache.store === 'redis' && config.redis === undefined) issues.add('cache.store', 'redis needs the top-level redis.url')
  issues.throwIfAny()
  return deepFreeze({ source: deepFreeze(structuredClone(config)), server, upstreams, routes, redis, admin, metrics, cache })
}

function compileMetrics (metrics: MetricsConfig): CompiledMetrics {
  return {
    host: metrics.listen?.host ?? DEFAULTS.metricsListen.host,
    port: metrics.listen?.port ?? DEFAULTS.metricsListen.port,
    path: metrics.path ?? DEFAULTS.metricsPath
  }
}

/**
 * `admin`: an admin API anyone on the network can reach must ask for a token, since it
 * can replace the whole config. Loopback-only listeners may go without one.
 */
function compileAdmin (admin: AdminConfig, issues: IssueList): CompiledAdmin {
  const host = admin.listen?.host ?? DEFAULTS.adminListen.host
  const port = admin.listen?.port ?? DEFAULTS.adminListen.port
  const token = admin.token ?? null
  if (token === null && !isLoopbackHost(host)) {
    issues.add('admin.token', `is required when admin.listen.host (${host}) is not a loopback address`)
  }
  return { host, port, token }
}

export interface CompiledRedis {
  readonly url: string
  /** How long a request waits for Redis before `onStoreError` decides. */
  readonly commandTimeoutMs: number
}

/** `redis.url`: refused at load when it is not a Redis URL, rather than failing on every request. */
function compileRedis (redis: { url: string, commandTimeout?: string | number }, issues: IssueList): CompiledRedis | null {
  const url = redis.url
  const commandTimeoutMs = duration(redis.commandTimeout, REDIS_COMMAND_TIMEOUT_MS, 'redis.commandTimeout', issues)
  if (commandTimeoutMs < 1) issues.add('redis.commandTimeout', 'must be at least 1ms')
  let parsed: URL | null = null
  try {
    parsed = new URL(url)
  } catch {
    // Reported below.
  }
  if (parsed === null || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') {
    issues.add('redis.url', `${JSON.stringify(url)} is not a redis:// or rediss:// URL with a host`)
    return null
  }
  return { url, commandTimeoutMs }
}

function compileServer (server: ServerConfig, baseDir: string, issues: IssueList): CompiledServer {
  const listeners: CompiledListener[] = []
  const keys = new Set<string>()
  const listens: readonly ListenConfig[] = server.listen ?? [DEFAULTS.listen]
  listens.forEach((listen, i) => {
    const path = joinPath(joinPath('server', 'listen'), i)
    const host = listen.host ?? DEFAULTS.listen.host
    const key = `${formatHostPort(host, listen.port)}`
    if (keys.has(key)) issues.add(path, `${key} is listed twice`)
    keys.add(key)
    let tls: CompiledListener['tls'] = null
    if (listen.tls !== undefined) {
      const certs = listen.tls.certs.map((c, j) => {
        const certPath = joinPath(joinPath(joinPath(path, 'tls'), 'certs'), j)
        const cert = readFile(c.cert, baseDir, joinPath(certPath, 'cert'), issues)
        const privateKey = readFile(c.key, baseDir, joinPath(certPath, 'key'), issues)
        if (cert !== undefined && privateKey !== undefined) {
          for (const problem of certificatePairProblems(cert, privateKey)) issues.add(joinPath(certPath, problem.file), problem.message)
        }
        return { cert: cert ?? Buffer.alloc(0), key: privateKey ?? Buffer.alloc(0) }
      })
      tls = { certs }
    }
    const http2 = listen.http2 === true
    // Cleartext h2 (h2c) would need a listener that tells the h2 preface from HTTP/1.1.
    if (http2 && tls === null) issues.add(joinPath(path, 'http2'), 'needs tls (HTTP/2 is offered by ALPN during the TLS handshake; cleartext h2c is not served)')
    listeners.push({ key: tls === null ? key : http2 ? `${key}+tls+h2` : `${key}+tls`, host, port: listen.port, tls, http2 })
  })
  let trustProxy: boolean | string[] = false
  if (Array.isArray(server.trustProxy)) {
    server.trustProxy.forEach((cidr, i) => issues.attempt(joinPath(joinPath('server', 'trustProxy'), i), () => parseCidr(cidr)))
    trustProxy = [...server.trustProxy]
  } else if (server.trustProxy === true) {
    trustProxy = true
  }
  const limits = server.limits ?? {}
  if (server.daemon === true && (server.logFile ?? null) === null) {
    issues.add('server.logFile', 'is required when daemon is true')
  }
  const headersTimeoutMs = duration(limits.headersTimeout, DEFAULTS.headersTimeoutMs, 'server.limits.headersTimeout', issues)
  const requestTimeoutMs = duration(limits.requestTimeout, DEFAULTS.requestTimeoutMs, 'server.limits.requestTimeout', issues)
  if (headersTimeoutMs < 1) {
    // To Node, 0 means no deadline at all: a client could hold a connection open forever by
    // never finishing its headers.
    issues.add('server.limits.headersTimeout', 'must be at least 1ms (0 would let a client that never finishes its headers hold the connection forever)')
  } else if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    // requestTimeout 0 is Node's "no deadline for the whole request": nothing to exceed.
    issues.add('server.limits.headersTimeout', 'must not exceed requestTimeout')
  }
  const maxHeaderSize = limits.maxHeaderSize === undefined ? DEFAULTS.maxHeaderSize : parseSize(limits.maxHeaderSize)
  if (maxHeaderSize < MIN_HEADER_SIZE || maxHeaderSize > MAX_HEADER_SIZE) {
    issues.add('server.limits.maxHeaderSize', `must be from 1kb to 1mb (${MIN_HEADER_SIZE} to ${MAX_HEADER_SIZE} bytes): every connection may buffer this much`)
  }
  return {
    listeners,
    workers: server.workers === 'auto' ? 0 : (server.workers ?? 1),
    trustProxy,
    gracefulShutdownMs: duration(server.gracefulShutdown, DEFAULTS.gracefulShutdownMs, 'server.gracefulShutdown', issues),
    daemon: server.daemon ?? false,
    pidFile: server.pidFile ?? null,
    logFile: server.logFile ?? null,
    logLevel: server.logLevel ?? DEFAULTS.logLevel,
    logFormat: server.logFormat ?? 'json',
    accessLog: server.accessLog ?? true,
    redactQuery: Object.freeze((server.redactQuery ?? DEFAULT_REDACTED_QUERY).map(name => name.toLowerCase())),
    underscoresInHeaders: server.underscoresInHeaders ?? false,
    engine: server.engine ?? 'undici',
    limits: {
      headersTimeoutMs,
      requestTimeoutMs,
      maxHeaderSize,
      maxHeaders: limits.maxHeaders ?? DEFAULTS.maxHeaders,
      maxConnections: limits.maxConnections ?? DEFAULTS.maxConnections,
      bodyLimit: limits.bodyLimit === undefined ? DEFAULTS.bodyLimit : parseSize(limits.bodyLimit)
    }
  }
}

function compileUpstream (name: string, upstream: UpstreamConfig, options: CompileOptions, issues: IssueList): CompiledUpstream | undefined {
  const baseDir = options.baseDir
  const path = joinPath('upstreams', name)
  const tlsEnabled = upstream.tls !== undefined && upstream.tls.enabled !== false
  const defaultPort = tlsEnabled ? 443 : 80
  const targets: TargetSpec[] = []
  const ids = new Set<string>()
  const addTargets = (list: readonly TargetConfig[] | undefined, key: 'targets' | 'backup'): void => {
    ;(list ?? []).forEach((target, i) => {
      const spec = issues.attempt(joinPath(joinPath(path, key), i), () => compileTarget(target, defaultPort, key === 'backup'))
      if (spec === undefined) return
      if (ids.has(spec.address.id)) {
        issues.add(joinPath(joinPath(path, key), i), `${spec.address.id} is listed twice`)
        return
      }
      ids.add(spec.address.id)
      targets.push(spec)
    })
  }
  addTargets(upstream.targets, 'targets')
  addTargets(upstream.backup, 'backup')
  if ((upstream.targets ?? []).length === 0 && upstream.discovery === undefined) {
    issues.add(joinPath(path, 'targets'), 'must list at least one target')
  }
  const discovery = upstream.discovery === undefined ? null : compileDiscovery(upstream.discovery, joinPath(path, 'discovery'), baseDir, issues)

  let tls: CompiledUpstreamTls | null = null
  if (tlsEnabled && upstream.tls !== undefined) {
    const t = upstream.tls
    const tlsPath = joinPath(path, 'tls')
    if ((t.cert === undefined) !== (t.key === undefined)) {
      issues.add(tlsPath, 'cert and key must be given together')
    }
    tls = {
      servername: t.servername ?? null,
      ca: t.ca === undefined ? null : (readFile(t.ca, baseDir, joinPath(tlsPath, 'ca'), issues) ?? null),
      cert: t.cert === undefined ? null : (readFile(t.cert, baseDir, joinPath(tlsPath, 'cert'), issues) ?? null),
      key: t.key === undefined ? null : (readFile(t.key, baseDir, joinPath(tlsPath, 'key'), issues) ?? null),
      verify: t.verify ?? true
    }
  }

  const proxy = compileProxy(upstream, targets, path, issues)
  const protocol = upstream.protocol ?? 'http1'
  if (protocol === 'h2' && !tlsEnabled) issues.add(joinPath(path, 'protocol'), 'h2 runs over TLS: enable tls, or use h2c for cleartext HTTP/2')
  if (protocol === 'h2c' && tlsEnabled) issues.add(joinPath(path, 'protocol'), 'h2c is cleartext HTTP/2: use h2 with tls')
  if (proxy !== null && protocol !== 'http1') issues.add(joinPath(path, 'proxy'), `a ${protocol} upstream cannot be reached through a proxy yet: only http1`)

  const balancerKind = upstream.balancer ?? 'round-robin'
  if (upstream.hash !== undefined && balancerKind !== 'consistent-hash') {
    issues.add(joinPath(path, 'hash'), 'is only used with balancer: consistent-hash')
  }
  if (upstream.sticky !== undefined && balancerKind !== 'sticky-cookie') {
    issues.add(joinPath(path, 'sticky'), 'is only used with balancer: sticky-cookie')
  }
  const hashKey = parseHashKey(upstream.hash?.key ?? 'ip')
  if ('name' in hashKey) {
    const problem = hashKey.from === 'header' ? headerNameProblem(hashKey.name) : cookieNameProblem(hashKey.name)
    if (problem !== null) issues.add(joinPath(joinPath(path, 'hash'), 'key'), `${JSON.stringify(hashKey.name)} ${problem}`)
  }
  const stickyCookie = upstream.sticky?.cookie ?? DEFAULTS.stickyCookie
  const stickyProblem = cookieNameProblem(stickyCookie)
  if (stickyProblem !== null) issues.add(joinPath(joinPath(path, 'sticky'), 'cookie'), stickyProblem)
  const timeouts = upstream.timeouts ?? {}
  const timeoutsPath = joinPath(path, 'timeouts')
  const idleMs = duration(timeouts.idle, DEFAULTS.idleMs, joinPath(timeoutsPath, 'idle'), issues)
  return {
    name,
    fingerprint: fingerprintOf(upstream, tls),
    targets,
    balancer: {
      kind: balancerKind,
      hashKey,
      sticky: {
        cookie: stickyCookie,
        ttlMs: duration(upstream.sticky?.ttl, DEFAULTS.stickyTtlMs, joinPath(joinPath(path, 'sticky'), 'ttl'), issues)
      }
    },
    tls,
    proxy,
    protocol,
    timeouts: {
      connectMs: duration(timeouts.connect, DEFAULTS.connectMs, joinPath(timeoutsPath, 'connect'), issues),
      responseMs: duration(timeouts.response, DEFAULTS.responseMs, joinPath(timeoutsPath, 'response'), issues),
      idleMs
    },
    pool: {
      connections: upstream.pool?.connections ?? null,
      keepAliveMs: Math.min(idleMs, duration(upstream.pool?.keepAlive, DEFAULTS.keepAliveMs, joinPath(joinPath(path, 'pool'), 'keepAlive'), issues))
    },
    retries: compileRetries(upstream.retries, undefined),
    health: compileHealth(upstream, path, options.healthChecks, issues),
    discovery
  }
}

function compileProxy (upstream: UpstreamConfig, targets: readonly TargetSpec[], path: string, issues: IssueList): CompiledProxy | null {
  if (upstream.proxy === undefined) return null
  const proxyPath = joinPath(path, 'proxy')
  const unix = targets.find(spec => spec.address.kind === 'unix')
  if (unix !== undefined) issues.add(proxyPath, `cannot reach ${unix.address.id}: a Unix socket target is never behind a proxy`)
  return issues.attempt(joinPath(proxyPath, 'url'), () => parseProxyUrl(upstream.proxy?.url ?? '')) ?? null
}

/**
 * Settings plus the certificate bytes: a certificate replaced on disk changes the upstream.
 * Health settings are not part of it: they change the probes, not the connections.
 */
function fingerprintOf (upstream: UpstreamConfig, tls: CompiledUpstreamTls | null): string {
  const { healthCheck: _check, passive: _passive, notify: _notify, ...connections } = upstream
  const hash = createHash('sha256').update(JSON.stringify(connections))
  for (const file of [tls?.ca, tls?.cert, tls?.key]) hash.update(file ?? '-')
  return hash.digest('base64url')
}

/** One `targets` entry as a target spec; throws a readable Error for a bad address. */
export function compileTarget (target: TargetConfig, defaultPort: number, backup: boolean): TargetSpec {
  if (typeof target === 'string') return { address: tcpAddress(target, defaultPort), weight: 1, backup }
  if ('socketPath' in target) {
    return { address: { kind: 'unix', socketPath: target.socketPath, id: `unix:${target.socketPath}` }, weight: target.weight ?? 1, backup }
  }
  return { address: tcpAddress(target.address, defaultPort), weight: target.weight ?? 1, backup }
}

function tcpAddress (text: string, defaultPort: number): TargetSpec['address'] {
  const { host, port } = parseHostPort(text, defaultPort)
  return { kind: 'tcp', host, port, id: formatHostPort(host, port) }
}

function parseHashKey (key: string): HashKey {
  const colon = key.indexOf(':')
  if (colon < 0) return { from: key as 'ip' | 'path' | 'query' | 'url' }
  const from = key.slice(0, colon) as 'header' | 'cookie'
  const name = key.slice(colon + 1)
  return { from, name: from === 'header' ? name.toLowerCase() : name }
}

function compileRetries (own: RetriesConfig | undefined, inherited: RetryPolicy | undefined): RetryPolicy {
  const on = own?.on
  const methods = own?.methods?.map(m => m.toUpperCase())
  return {
    attempts: own?.attempts ?? inherited?.attempts ?? DEFAULTS.retryAttempts,
    onConnectError: on === undefined ? (inherited?.onConnectError ?? true) : on.includes('connect-error'),
    statuses: on === undefined
      ? (inherited?.statuses ?? new Set<number>())
      : new Set(on.filter((x): x is number => typeof x === 'number')),
    methods: methods === undefined ? (inherited?.methods ?? new Set(DEFAULTS.retryMethods)) : new Set(methods)
  }
}

const NO_HOOKS: Readonly<RouteHooks> = Object.freeze({})

function compileRoute (
  route: RouteFileConfig,
  index: number,
  path: string,
  upstreamConfigs: Readonly<Record<string, UpstreamConfig>>,
  upstreams: ReadonlyMap<string, CompiledUpstream>,
  hooks: RouteHooks | undefined,
  server: CompiledServer,
  options: CompileOptions,
  issues: IssueList
): CompiledRoute | undefined {
  const transparent = route.transparent === true
  if (transparent && route.upstream !== undefined) {
    issues.add(path, 'set either upstream or transparent: true, not both')
  } else if (!transparent && route.upstream === undefined) {
    issues.add(path, 'needs an upstream (or transparent: true)')
  } else if (route.upstream !== undefined && upstreamConfigs[route.upstream] === undefined) {
    issues.add(joinPath(path, 'upstream'), `names a missing upstream "${route.upstream}"`)
  }
  const match = route.match ?? {}
  issues.attempt(joinPath(joinPath(path, 'match'), 'path'), () => compilePathPattern(match.path))
  for (const name of Object.keys(match.headers ?? {})) {
    const problem = headerNameProblem(name)
    if (problem !== null) issues.add(joinPath(joinPath(joinPath(path, 'match'), 'headers'), name), problem)
  }
  checkHeaderRules(route.requestHeaders, joinPath(path, 'requestHeaders'), issues)
  checkHeaderRules(route.responseHeaders, joinPath(path, 'responseHeaders'), issues)
  const matchSpec: RouteMatchSpec = {
    ...(match.host !== undefined ? { host: match.host } : {}),
    ...(match.path !== undefined ? { path: match.path } : {}),
    ...(match.methods !== undefined ? { methods: match.methods.map(m => m.toUpperCase()) } : {}),
    ...(match.headers !== undefined ? { headers: match.headers } : {})
  }
  // A WebSocket upgrade is a GET: a route that never matches one could never accept one.
  if (route.websocket === true && matchSpec.methods !== undefined && !matchSpec.methods.includes('GET')) {
    issues.add(joinPath(path, 'websocket'), 'a WebSocket upgrade is a GET request, which match.methods leaves out')
  }
  // The WebSocket tunnel connects to targets itself, and knows no CONNECT proxy: the
  // upgrade would go around the proxy the upstream must be reached through.
  if (route.websocket === true && route.upstream !== undefined && upstreamConfigs[route.upstream]?.proxy !== undefined) {
    issues.add(joinPath(path, 'websocket'), `upstream "${route.upstream}" is reached through proxy.url, which WebSocket routes do not support`)
  }
  const rewritePath = issues.attempt(joinPath(joinPath(path, 'rewrite'), 'path'), () => compilePathRewrite(route.rewrite))
  const rewriteQuery = issues.attempt(joinPath(joinPath(path, 'rewrite'), 'query'), () => compileQueryRewrite(route.rewrite?.query))
  const requestHeaders = issues.attempt(joinPath(path, 'requestHeaders'), () => compileHeaderRules(route.requestHeaders))
  const responseHeaders = issues.attempt(joinPath(path, 'responseHeaders'), () => compileHeaderRules(route.responseHeaders))
  const upstream = route.upstream === undefined ? undefined : upstreams.get(route.upstream)
  const timeouts = route.timeouts ?? {}
  const timeoutsPath = joinPath(path, 'timeouts')
  if (rewritePath === undefined || rewriteQuery === undefined || requestHeaders === undefined || responseHeaders === undefined) return undefined
  return {
    index,
    name: route.name,
    match: matchSpec,
    upstream: route.upstream ?? null,
    transparent,
    rewritePath,
    rewriteQuery,
    requestHeaders,
    responseHeaders,
    timeouts: {
      connectMs: duration(timeouts.connect, upstream?.timeouts.connectMs ?? DEFAULTS.connectMs, joinPath(timeoutsPath, 'connect'), issues),
      responseMs: duration(timeouts.response, upstream?.timeouts.responseMs ?? DEFAULTS.responseMs, joinPath(timeoutsPath, 'response'), issues),
      idleMs: duration(timeouts.idle, upstream?.timeouts.idleMs ?? DEFAULTS.idleMs, joinPath(timeoutsPath, 'idle'), issues)
    },
    websocket: route.websocket === true,
    retries: transparent && route.retries === undefined
      ? { attempts: 0, onConnectError: false, statuses: new Set(), methods: new Set() }
      : compileRetries(route.retries, upstream?.retries),
    hooks: hooks === undefined ? NO_HOOKS : Object.freeze({ ...hooks }),
    ipFilter: route.ipFilter === undefined ? null : compileIpFilter(route.ipFilter, joinPath(path, 'ipFilter'), issues),
    auth: route.auth === undefined ? null : compileAuth(route.auth, joinPath(path, 'auth'), { baseDir: options.baseDir, registry: options.auth }, issues),
    rateLimit: route.rateLimit === undefined ? null : compileRateLimit(route.rateLimit, joinPath(path, 'rateLimit'), issues),
    concurrency: route.concurrency === undefined ? null : compileConcurrency(route.concurrency),
    bodyLimit: route.bodyLimit === undefined ? server.limits.bodyLimit : (issues.attempt(joinPath(path, 'bodyLimit'), () => parseSize(route.bodyLimit as string | number)) ?? server.limits.bodyLimit),
    inspect: route.inspect === undefined ? null : compileInspect(route.inspect, joinPath(path, 'inspect'), issues),
    cache: route.cache === undefined ? null : compileRouteCache(route.cache, joinPath(path, 'cache'), issues)
  }
}

/** Milliseconds, or `fallback` when the key is absent; a duration too long is an issue at `path`. */
function duration (value: string | number | undefined, fallback: number, path: string, issues: IssueList): number {
  if (value === undefined) return fallback
  return issues.attempt(path, () => parseDuration(value)) ?? fallback
}

/**
 * Names and values Node would refuse when a rule applies them: the request or response
 * would fail each time, so the config is refused once instead.
 */
function checkHeaderRules (rules: HeaderRulesConfig | undefined, path: string, issues: IssueList): void {
  if (rules === undefined) return
  for (const [name, value] of Object.entries(rules.set ?? {})) {
    const at = joinPath(joinPath(path, 'set'), name)
    const problem = headerNameProblem(name) ?? headerValueProblem(value)
    if (problem !== null) issues.add(at, problem)
  }
  for (const [from, to] of Object.entries(rules.copy ?? {})) {
    const at = joinPath(joinPath(path, 'copy'), from)
    const fromProblem = headerNameProblem(from)
    if (fromProblem !== null) issues.add(at, fromProblem)
    const toProblem = headerNameProblem(to)
    if (toProblem !== null) issues.add(at, `copies to ${JSON.stringify(to)}, which ${toProblem}`)
  }
  ;(rules.remove ?? []).forEach((name, i) => {
    const problem = headerNameProblem(name)
    if (problem !== null) issues.add(joinPath(joinPath(path, 'remove'), i), problem)
  })
}

function readFile (file: string, baseDir: string, path: string, issues: IssueList): Buffer | undefined {
  const full = isAbsolute(file) ? file : resolve(baseDir, file)
  return issues.attempt(path, () => {
    try {
      return readFileSync(full)
    } catch (err) {
      throw new Error(`cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
  })
}

function deepFreeze<T> (value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value
  if (value instanceof Map || value instanceof Set) {
    for (const item of value.values()) deepFreeze(item)
    return Object.freeze(value)
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof RegExp) return value
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  return Object.freeze(value)
}
