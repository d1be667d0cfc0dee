/**
 * THE config schema: the single source of the config's TypeScript types (through
 * TypeBox's `Static`) and of its validation (the same objects are JSON Schema, compiled by
 * Ajv in `validate.ts`). YAML, JSON and `defineGateway` modules all go through it.
 *
 * Every object is closed (`additionalProperties: false`) so that a misspelt key is an
 * error, not a silently ignored setting. Checks JSON Schema cannot express (a route naming
 * a missing upstream, a bad CIDR or regex) live in `compile.ts` and report the same
 * `path: message` lines.
 */
import { Type, type Static, type TSchema, type TObject, type TProperties } from '@sinclair/typebox'
import { MAX_DURATION_MS, MAX_DURATION_TEXT } from './units.js'
import { HEALTH_CHECK_NAME_PATTERN } from '../health/define.js'

const closed = <T extends TProperties>(properties: T, description?: string): TObject<T> =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) })

export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h)\\s*$'
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kK][bB]|[mM][bB]|[gG][bB])\\s*$'

/**
 * "500ms", "2s", "1m", "1h", or an integer number of milliseconds, at most MAX_DURATION_MS
 * (a string's value is checked against it where it is parsed, in compile).
 */
export const Duration = Type.Union([
  Type.String({ pattern: DURATION_PATTERN }),
  // The bound's own message replaces the union's (validate.ts): it says what the limit is.
  Type.Integer({ minimum: 0, maximum: MAX_DURATION_MS, errorMessage: `must be at most ${MAX_DURATION_TEXT}` })
], { description: 'a duration: "500ms", "2s", "1m", "1h" or milliseconds', errorMessage: 'must be a duration such as "500ms", "2s", "1m" or a number of milliseconds' })

/** "100b", "64kb", "10mb", or an integer number of bytes. */
export const Size = Type.Union([
  Type.String({ pattern: SIZE_PATTERN }),
  Type.Integer({ minimum: 0 })
], { description: 'a size: "100b", "64kb", "10mb" or bytes', errorMessage: 'must be a size such as "100b", "64kb", "10mb" or a number of bytes' })

const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const HttpMethod = Type.String({ pattern: '^[A-Za-z]+$', description: 'an HTTP method' })
/** An HTTP token (RFC 9110 §5.6.2): what Node accepts as a header name, and a cookie name. */
export const TOKEN_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
const HeaderName = Type.String({ pattern: TOKEN_PATTERN, description: 'an HTTP header name', errorMessage: 'is not a valid header name' })
const StringMap = Type.Record(Type.String(), Type.String())

// ---------------------------------------------------------------- server

export const ListenSchema = closed({
  host: Type.Optional(Type.String({ minLength: 1, description: 'address to bind, default 0.0.0.0' })),
  port: Port,
  tls: Type.Optional(closed({
    certs: Type.Array(closed({
      cert: Type.String({ minLength: 1, description: 'PEM certificate file' }),
      key: Type.String({ minLength: 1, description: 'PEM private key file' })
    }), { minItems: 1, description: 'picked by SNI; the first is the default' })
  }))
})

export const LimitsSchema = closed({
  headersTimeout: Type.Optional(Duration),
  requestTimeout: Type.Optional(Duration),
  maxHeaderSize: Type.Optional(Size),
  maxHeaders: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'request header lines; more get 431' })),
  maxConnections: Type.Optional(Type.Integer({ minimum: 1, description: 'open client connections per listener; more are refused' })),
  bodyLimit: Type.Optional(Size)
})

const LogLevel = Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)))

export const ServerSchema = closed({
  listen: Type.Optional(Type.Array(ListenSchema, { minItems: 1 })),
  workers: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')])),
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }))], {
    description: 'addresses or CIDRs whose X-Forwarded-For is believed'
  })),
  gracefulShutdown: Type.Optional(Duration),
  daemon: Type.Optional(Type.Boolean()),
  pidFile: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
  logFile: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
  logLevel: Type.Optional(LogLevel),
  logFormat: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('pretty')], {
    description: 'json: one JSON object a line (default); pretty: readable lines for a terminal',
    errorMessage: 'must be json or pretty'
  })),
  accessLog: Type.Optional(Type.Boolean()),
  redactQuery: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^&=#\\s]+$', errorMessage: 'must be a query parameter name (no &, =, # or spaces)' }), {
    maxItems: 256,
    description: 'query parameters whose values logs show as "***" (replaces the default list; [] turns it off)'
  })),
  underscoresInHeaders: Type.Optional(Type.Boolean({ description: 'forward request headers whose names contain "_" (default false: dropped)' })),
  limits: Type.Optional(LimitsSchema),
  engine: Type.Optional(Type.Union([Type.Literal('undici'), Type.Literal('reply-from')], {
    description: 'what carries HTTP/1.1 requests upstream: undici (direct dispatch, default) or reply-from (@fastify/reply-from)',
    errorMessage: 'must be undici or reply-from'
  }))
})

// ---------------------------------------------------------------- upstreams

const Weight = Type.Integer({ minimum: 1, maximum: 1000 })

export const TargetSchema = Type.Union([
  Type.String({ minLength: 1, description: 'host:port' }),
  closed({ address: Type.String({ minLength: 1 }), weight: Type.Optional(Weight) }),
  closed({ socketPath: Type.String({ minLength: 1 }), weight: Type.Optional(Weight) })
], { errorMessage: 'must be "host:port", { address, weight } or { socketPath, weight }' })

export const BalancerSchema = Type.Union([
  Type.Literal('round-robin'),
  Type.Literal('random'),
  Type.Literal('least-connections'),
  Type.Literal('consistent-hash'),
  Type.Literal('sticky-cookie')
], { errorMessage: 'must be one of round-robin, random, least-connections, consistent-hash, sticky-cookie' })

export const UpstreamTlsSchema = closed({
  enabled: Type.Optional(Type.Boolean()),
  servername: Type.Optional(Type.String({ minLength: 1, description: 'SNI and default Host' })),
  ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA file to verify the upstream' })),
  cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate (mTLS)' })),
  key: Type.Optional(Type.String({ minLength: 1, description: 'PEM client key (mTLS)' })),
  verify: Type.Optional(Type.Boolean({ description: 'verify the upstream certificate; default true' }))
})

export const UpstreamTimeoutsSchema = closed({
  connect: Type.Optional(Duration),
  response: Type.Optional(Duration),
  idle: Type.Optional(Duration)
})

export const RetriesSchema = closed({
  attempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'extra tries after the first' })),
  on: Type.Optional(Type.Array(Type.Union([
    Type.Literal('connect-error'),
    Type.Integer({ minimum: 100, maximum: 599 })
  ], { errorMessage: 'must be "connect-error" or an HTTP status' }))),
  methods: Type.Optional(Type.Array(HttpMethod))
})

/** Consecutive results that flip a target's state: 0 would flip on nothing. */
const Threshold = Type.Integer({ minimum: 1, maximum: 1000, errorMessage: 'must be a whole number from 1 to 1000' })

/**
 * One object for every check type, so that a key given to the wrong type is reported by
 * name (`healthCheck.path: is only used with type: http`); which keys each type takes is
 * checked when the upstream is compiled.
 */
export const HealthCheckSchema = closed({
  type: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('http'), Type.Literal('custom')], { errorMessage: 'must be tcp, http or custom' })),
  // Node's own rule for a request path: visible Latin-1 only (no space or control character).
  path: Type.Optional(Type.String({ pattern: '^/[\\u0021-\\u00ff]*$', description: 'http: the path (and query) asked for', errorMessage: 'must start with "/" and hold no space or control character' })),
  host: Type.Optional(Type.String({ minLength: 1, description: 'http: the Host header sent' })),
  expectStatus: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599, errorMessage: 'must be an HTTP status from 100 to 599' }), { minItems: 1, description: 'http: the statuses that pass (default any 2xx or 3xx)' })),
  expectBody: Type.Optional(Type.String({ minLength: 1, description: 'http: a substring, or "/regex/flags", the body must hold' })),
  name: Type.Optional(Type.String({ pattern: HEALTH_CHECK_NAME_PATTERN, description: 'custom: the name given to defineHealthCheck', errorMessage: 'must be letters, digits or _ . : -' })),
  interval: Type.Optional(Duration),
  timeout: Type.Optional(Duration),
  healthyThreshold: Type.Optional(Threshold),
  unhealthyThreshold: Type.Optional(Threshold)
})

export const PassiveSchema = closed({
  consecutiveFailures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, errorMessage: 'must be a whole number from 1 to 1000' })),
  ejectFor: Type.Optional(Duration),
  on: Type.Optional(Type.Array(Type.Union([
    Type.Literal('connect-error'),
    Type.Literal('timeout'),
    Type.Integer({ minimum: 400, maximum: 599 })
  ], { errorMessage: 'must be connect-error, timeout or an HTTP status from 400 to 599' })))
})

export const NotifySchema = closed({
  webhook: Type.String({ minLength: 1, description: 'http(s) URL POSTed a JSON event when a target or the whole upstream changes health' })
})

/**
 * One object for every source type, as for health checks: a key given to the wrong type
 * is reported by name; which keys each type takes is checked in `discovery/config.ts`.
 */
export const DiscoverySchema = closed({
  type: Type.Union([Type.Literal('dns'), Type.Literal('file'), Type.Literal('docker')], { errorMessage: 'must be dns, file or docker' }),
  host: Type.Optional(Type.String({ minLength: 1, description: 'dns: the name to resolve' })),
  record: Type.Optional(Type.Union([Type.Literal('A'), Type.Literal('AAAA'), Type.Literal('SRV')], { errorMessage: 'must be A, AAAA or SRV' })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'dns A/AAAA, docker: the targets\' port', errorMessage: 'must be a port from 1 to 65535' })),
  servers: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'dns: resolvers to ask instead of the system\'s, as ip[:port]' })),
  path: Type.Optional(Type.String({ minLength: 1, description: 'file: one address[ weight] a line, or a YAML list of targets' })),
  socketPath: Type.Optional(Type.String({ minLength: 1, description: 'docker: the Engine API\'s Unix socket' })),
  labels: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: 'docker: labels a container must carry' })),
  network: Type.Optional(Type.String({ minLength: 1, description: 'docker: the network whose address is used' })),
  interval: Type.Optional(Duration)
})

export const UpstreamSchema = closed({
  targets: Type.Optional(Type.Array(TargetSchema)),
  backup: Type.Optional(Type.Array(TargetSchema)),
  discovery: Type.Optional(DiscoverySchema),
  balancer: Type.Optional(BalancerSchema),
  hash: Type.Optional(closed({
    key: Type.String({
      pattern: '^(ip|path|query|url|header:[^\\s:]+|cookie:[^\\s;=]+)$',
      errorMessage: 'must be ip, path, query, url, header:<name> or cookie:<name>'
    })
  })),
  sticky: Type.Optional(closed({
    cookie: Type.Optional(Type.String({ pattern: TOKEN_PATTERN, errorMessage: 'is not a valid cookie name' })),
    ttl: Type.Optional(Duration)
  })),
  protocol: Type.Optional(Type.Literal('http1', { errorMessage: 'must be http1 (h2 and h2c upstreams are not supported yet)' })),
  tls: Type.Optional(UpstreamTlsSchema),
  timeouts: Type.Optional(UpstreamTimeoutsSchema),
  pool: Type.Optional(closed({
    connections: Type.Optional(Type.Integer({ minimum: 1 })),
    keepAlive: Type.Optional(Duration)
  })),
  retries: Type.Optional(RetriesSchema),
  healthCheck: Type.Optional(HealthCheckSchema),
  passive: Type.Optional(PassiveSchema),
  notify: Type.Optional(NotifySchema)
})

// ---------------------------------------------------------------- routes

export const HeaderRulesSchema = closed({
  set: Type.Optional(StringMap),
  remove: Type.Optional(Type.Array(HeaderName)),
  copy: Type.Optional(StringMap)
})

export const RouteMatchSchema = closed({
  host: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  path: Type.Optional(Type.String({ minLength: 1, description: 'exact "/x", prefix "/x/*", or regex "~ ^/x/(\\d+)$"' })),
  methods: Type.Optional(Type.Array(HttpMethod, { minItems: 1 })),
  headers: Type.Optional(StringMap)
})

export const RewriteSchema = closed({
  stripPrefix: Type.Optional(Type.String({ pattern: '^/' })),
  path: Type.Optional(Type.String({ minLength: 1, description: 'template: {rest}, {1}, {name}' })),
  query: Type.Optional(closed({
    remove: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    set: Type.Optional(StringMap)
  }))
})

// ---------------------------------------------------------------- traffic control and auth

const Cidr = Type.String({ minLength: 1, description: 'an address or CIDR: 10.0.0.0/8, 127.0.0.1, ::1/128' })

export const IpFilterSchema = closed({
  allow: Type.Optional(Type.Array(Cidr, { description: 'only these may pass (all when absent)' })),
  deny: Type.Optional(Type.Array(Cidr, { description: 'these are refused; deny wins over allow' }))
})

/** `ip`, `route`, `header:<name>`, `claim:<name>` or `principal`. */
const LimitKey = Type.String({
  pattern: "^(ip|route|principal|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|claim:[^\\s]+)$",
  errorMessage: 'must be ip, route, principal, header:<name> or claim:<name>'
})

export const RateLimitSchema = closed({
  limit: Type.Integer({ minimum: 1, description: 'requests per window' }),
  window: Duration,
  algorithm: Type.Optional(Type.Union([Type.Literal('fixed-window'), Type.Literal('sliding-window')], { errorMessage: 'must be fixed-window or sliding-window' })),
  key: Type.Optional(LimitKey),
  store: Type.Optional(Type.Union([Type.Literal('memory'), Type.Literal('redis')], { errorMessage: 'must be memory or redis' })),
  onStoreError: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')], { errorMessage: 'must be open or closed' }))
})

export const ConcurrencySchema = closed({
  limit: Type.Integer({ minimum: 1, description: 'requests in flight at once' }),
  key: Type.Optional(Type.Union([Type.Literal('route'), Type.Literal('ip')], { errorMessage: 'must be route or ip' }))
})

export const InspectSchema = closed({
  block: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'substrings, or "/regex/flags"' }),
  maxBytes: Type.Optional(Size)
})

/**
 * One object for every auth type, so that a key given to the wrong type is reported by
 * name (`routes[0].auth.tokens: is only used with type: bearer`) rather than as a failed
 * union; which keys each type takes is checked when the route is compiled.
 */
export const AuthSchema = closed({
  type: Type.Union([Type.Literal('bearer'), Type.Literal('basic'), Type.Literal('jwt'), Type.Literal('custom')], { errorMessage: 'must be bearer, basic, jwt or custom' }),
  tokens: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'bearer: the accepted tokens' })),
  realm: Type.Optional(Type.String({ minLength: 1, description: 'the realm named in the WWW-Authenticate challenge (default tollgate)' })),
  users: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), { description: 'basic: user name → scrypt hash from `tollgate hash-password`' })),
  secret: Type.Optional(Type.String({ minLength: 1, description: 'jwt: HMAC secret' })),
  publicKey: Type.Optional(Type.String({ minLength: 1, description: 'jwt: PEM public key file' })),
  jwksUrl: Type.Optional(Type.String({ minLength: 1, description: 'jwt: JWKS endpoint' })),
  algorithms: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  issuer: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  audience: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  clockTolerance: Type.Optional(Duration),
  forwardClaims: Type.Optional(Type.Record(Type.String({ minLength: 1 }), HeaderName, { description: 'jwt: claim → header sent upstream' })),
  forward: Type.Optional(Type.Boolean({ description: "send the client's Authorization upstream (default false)" })),
  name: Type.Optional(Type.String({ minLength: 1, description: 'custom: the name given to defineAuth' })),
  timeout: Type.Optional(Duration)
})

export const RouteSchema = closed({
  name: Type.String({ minLength: 1 }),
  match: Type.Optional(RouteMatchSchema),
  upstream: Type.Optional(Type.String({ minLength: 1 })),
  transparent: Type.Optional(Type.Boolean({ description: "forward to the request's own Host" })),
  rewrite: Type.Optional(RewriteSchema),
  requestHeaders: Type.Optional(HeaderRulesSchema),
  responseHeaders: Type.Optional(HeaderRulesSchema),
  timeouts: Type.Optional(closed({ connect: Type.Optional(Duration), response: Type.Optional(Duration) })),
  retries: Type.Optional(RetriesSchema),
  ipFilter: Type.Optional(IpFilterSchema),
  rateLimit: Type.Optional(RateLimitSchema),
  concurrency: Type.Optional(ConcurrencySchema),
  bodyLimit: Type.Optional(Size),
  inspect: Type.Optional(InspectSchema),
  auth: Type.Optional(AuthSchema)
})

// ---------------------------------------------------------------- the whole file

export const RedisSchema = closed({
  url: Type.String({ minLength: 1, description: 'redis://host:port[/db]' }),
  commandTimeout: Type.Optional(Duration)
})

// ---------------------------------------------------------------- admin API

export const AdminSchema = closed({
  listen: Type.Optional(closed({
    host: Type.Optional(Type.String({ minLength: 1, description: 'address to bind, default 127.0.0.1' })),
    port: Type.Optional(Port)
  })),
  token: Type.Optional(Type.String({ minLength: 1, description: 'the bearer token every admin request must carry; required off loopback' }))
}, 'the admin API listener; absent = none')

export const GatewayConfigSchema = closed({
  server: Type.Optional(ServerSchema),
  admin: Type.Optional(AdminSchema),
  redis: Type.Optional(RedisSchema),
  upstreams: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }), UpstreamSchema)),
  routes: Type.Optional(Type.Array(RouteSchema))
})

export type DurationValue = Static<typeof Duration>
export type SizeValue = Static<typeof Size>
export type ListenConfig = Static<typeof ListenSchema>
export type ServerConfig = Static<typeof ServerSchema>
export type TargetConfig = Static<typeof TargetSchema>
export type UpstreamConfig = Static<typeof UpstreamSchema>
export type RetriesConfig = Static<typeof RetriesSchema>
export type HealthCheckConfig = Static<typeof HealthCheckSchema>
export type PassiveConfig = Static<typeof PassiveSchema>
export type NotifyConfig = Static<typeof NotifySchema>
export type HeaderRulesConfig = Static<typeof HeaderRulesSchema>
export type RouteMatchConfig = Static<typeof RouteMatchSchema>
export type RewriteConfig = Static<typeof RewriteSchema>
export type IpFilterConfig = Static<typeof IpFilterSchema>
export type RateLimitConfig = Static<typeof RateLimitSchema>
export type ConcurrencyConfig = Static<typeof ConcurrencySchema>
export type InspectConfig = Static<typeof InspectSchema>
export type AuthConfig = Static<typeof AuthSchema>
export type RedisConfig = Static<typeof RedisSchema>
export type AdminConfig = Static<typeof AdminSchema>
/** A route as written in the config file (no hooks: those exist only in TypeScript). */
export type RouteFileConfig = Static<typeof RouteSchema>
/** The config file as written (YAML, JSON or `defineGateway`), before compilation. */
export type GatewayFileConfig = Static<typeof GatewayConfigSchema>

export type { TSchema }
