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
import { Type, type Static, type TSchema, type TObject, type TProperties, type TUnion } from '@sinclair/typebox'
import { MAX_DURATION_MS, MAX_DURATION_TEXT } from './units.js'
import { HEALTH_CHECK_NAME_PATTERN } from '../health/define.js'

const closed = <T extends TProperties>(properties: T, description?: string): TObject<T> =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) })

/**
 * What docs/config.md shows for a key (`npm run docs`): its meaning, its default (as
 * compile applies it: check there before changing one), an example value, and, where no
 * value can say the default (`the target's host name`), that in words.
 */
interface Annotations {
  readonly description?: string
  readonly default?: unknown
  readonly examples?: readonly unknown[]
  readonly defaultText?: string
}

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

/** A Duration of one key: the shared schema cannot carry each key's meaning and default. */
const duration = (annotations: Annotations): TUnion<typeof Duration.anyOf> =>
  Type.Union([...Duration.anyOf], { errorMessage: Duration.errorMessage as string, ...annotations })
/** A Size of one key, as `duration`. */
const size = (annotations: Annotations): TUnion<typeof Size.anyOf> =>
  Type.Union([...Size.anyOf], { errorMessage: Size.errorMessage as string, ...annotations })

const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const HttpMethod = Type.String({ pattern: '^[A-Za-z]+$', description: 'an HTTP method', errorMessage: 'must be an HTTP method (letters only)' })
/** An HTTP token (RFC 9110 §5.6.2): what Node accepts as a header name, and a cookie name. */
export const TOKEN_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
const HeaderName = Type.String({ pattern: TOKEN_PATTERN, description: 'an HTTP header name', errorMessage: 'is not a valid header name' })
const StringMap = (annotations: Annotations = {}) => Type.Record(Type.String(), Type.String(), annotations)

// ---------------------------------------------------------------- server

export const ListenSchema = closed({
  host: Type.Optional(Type.String({ minLength: 1, description: 'address to bind.', default: '0.0.0.0', examples: ['127.0.0.1'] })),
  port: Type.Integer({ minimum: 0, maximum: 65535, description: '`0` picks a free port (logged at start).', examples: [8080] }),
  http2: Type.Optional(Type.Boolean({ description: 'offer HTTP/2 by ALPN on this TLS listener; clients that do not ask for it get HTTP/1.1 on the same port. Needs `tls` (cleartext h2c is not served). A change needs a restart (or a new port).', default: false, examples: [true] })),
  tls: Type.Optional(closed({
    certs: Type.Array(closed({
      cert: Type.String({ minLength: 1, description: 'PEM certificate file, relative to the config file\'s folder.', examples: ['certs/a.crt'] }),
      key: Type.String({ minLength: 1, description: 'PEM private key file.', examples: ['certs/a.key'] })
    }), { minItems: 1, description: 'serve HTTPS (TLS 1.2 and 1.3); the certificate is chosen by SNI (exact name, then `*.` wildcard, then the first, which also answers clients that send no SNI). `validate` reads the files and refuses one that is not PEM or a key that does not match its certificate; a reload (SIGHUP) reads them again, and open connections keep the certificate they began with.', examples: [[{ cert: 'certs/a.crt', key: 'certs/a.key' }]] })
  }))
})

export const LimitsSchema = closed({
  headersTimeout: Type.Optional(duration({
    description: 'a client that has not sent all its headers by then gets 408 and is disconnected; so is a connection that never sends a byte, counted from when it was accepted (a TLS connection that does not finish its handshake in this time is closed too). At least `1ms` (to Node, 0 would mean no deadline, and a client that never finishes its headers would hold its connection forever). Must not exceed `requestTimeout` unless that is 0.',
    default: '10s',
    examples: ['5s']
  })),
  requestTimeout: Type.Optional(duration({
    description: 'the whole request (headers and body) must arrive within this. `0`: no deadline for the whole request (`headersTimeout` still applies).',
    default: '60s',
    examples: ['2m']
  })),
  maxHeaderSize: Type.Optional(size({
    description: 'larger request headers get 431. From `1kb` to `1mb`: Node accepts far larger values, but every connection may buffer this much before the limit applies, and upstreams refuse much less (Node 16 KiB, nginx 8 KiB per line); below 1 KiB ordinary requests get 431.',
    default: '16kb',
    examples: ['32kb']
  })),
  maxHeaders: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'request header lines a request may carry (as Envoy\'s default); more get 431.', default: 100, examples: [200] })),
  maxConnections: Type.Optional(Type.Integer({ minimum: 1, description: 'open client connections per listener; a connection beyond it is closed as soon as it is accepted.', default: 10000, examples: [50000] })),
  bodyLimit: Type.Optional(size({
    description: 'a request whose `Content-Length` is larger gets 413 `PAYLOAD_TOO_LARGE` before its body is read (and before `100 Continue`). A chunked body is counted as it streams, and gets 413 at the first byte over (the upstream\'s request is cut; it never sees a complete one). Bodies are streamed, never buffered. An error answered before the client finished sending its body closes the connection.',
    default: '10mb',
    examples: ['1mb']
  }))
})

const LogLevel = Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), {
  description: '`debug` also logs each new upstream connection.',
  default: 'info',
  examples: ['debug']
})

export const ServerSchema = closed({
  listen: Type.Optional(Type.Array(ListenSchema, { minItems: 1, description: 'sockets to listen on.', default: [{ host: '0.0.0.0', port: 8080 }], examples: [[{ host: '0.0.0.0', port: 8080 }, { port: 8443, tls: { certs: [{ cert: 'certs/a.crt', key: 'certs/a.key' }] } }]] })),
  workers: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], {
    description: 'worker processes sharing the listeners (node:cluster); `"auto"`: one per core. `--workers N` overrides it. Each worker keeps its own memory rate-limit counts, health checks and connections; see [operations.md](operations.md#workers). A change needs a restart.',
    default: 1,
    examples: ['auto']
  })),
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }))], {
    description: '`true`, or a list of addresses/CIDRs whose `X-Forwarded-For` / `-Proto` / `-Host` are believed. From anyone else those headers are replaced, not extended, and every other `X-Forwarded-*`, `Forwarded` and `X-Real-IP` is dropped.',
    default: false,
    examples: [['127.0.0.1/32', '10.0.0.0/8']]
  })),
  gracefulShutdown: Type.Optional(duration({ description: 'on SIGTERM, how long in-flight requests may take to finish.', default: '30s', examples: ['10s'] })),
  daemon: Type.Optional(Type.Boolean({ description: 'detach from the terminal (same as `--daemon`); needs `logFile`.', default: false, examples: [true] })),
  pidFile: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()], { description: 'write the pid here at start (foreground too), remove it on exit.', default: null, examples: ['/run/tollgate.pid'] })),
  logFile: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()], { description: 'log lines are appended here (synchronous writes); `null`: stdout. Required with `daemon`.', default: null, examples: ['/var/log/tollgate.log'] })),
  logLevel: Type.Optional(LogLevel),
  logFormat: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('pretty')], {
    description: '`json`: one JSON object a line (pino), for log shippers. `pretty`: readable lines through pino-pretty, for a terminal (coloured on a TTY); `npm start`\'s example config uses it.',
    default: 'json',
    examples: ['pretty']
  })),
  accessLog: Type.Optional(Type.Boolean({ description: 'one log line per request (`msg: "request"`); its fields are listed in [operations.md](operations.md#the-access-log). `false`: no line and no cost.', default: true, examples: [false] })),
  redactQuery: Type.Optional(Type.Array(Type.String({ maxLength: 128, pattern: '^[^&=#\\s]+$', errorMessage: 'must be a query parameter name (no &, =, # or spaces)' }), {
    maxItems: 256,
    description: 'query parameters whose values every log line shows as `***` (`/x?token=***&page=2`). Names are matched without regard to case or percent-escaping. A list given here replaces the default one; `[]` logs queries as sent. Credentials in `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` and `X-Api-Key` are never logged, whatever this says.',
    defaultText: '`[token, access_token, refresh_token, id_token, api_key, apikey, key, password, secret, client_secret, signature, sig, code]`',
    examples: [['token', 'session']]
  })),
  underscoresInHeaders: Type.Optional(Type.Boolean({ description: 'forward request headers whose names contain `_`. Off, they are dropped, as nginx does: CGI and WSGI servers read `X_Forwarded_For` as `X-Forwarded-For`.', default: false, examples: [true] })),
  limits: Type.Optional(LimitsSchema),
  engine: Type.Optional(Type.Union([Type.Literal('undici'), Type.Literal('reply-from')], {
    description: 'what carries requests to HTTP/1.1 upstreams: `undici` (the gateway\'s own handler on undici\'s dispatch, the fastest) or `reply-from` (@fastify/reply-from). Both behave the same; see [design.md](design.md#two-engines) for what each costs.',
    default: 'undici',
    examples: ['reply-from'],
    errorMessage: 'must be undici or reply-from'
  }))
}, 'listeners, processes, logs and request limits.')

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
], {
  errorMessage: 'must be one of round-robin, random, least-connections, consistent-hash, sticky-cookie',
  description: '`round-robin` (smooth weighted, as nginx: weights 3:1 give 3 + 1 in every 4), `random` (weighted), `least-connections` (fewest in-flight per unit of weight), `consistent-hash` (see `hash`), `sticky-cookie` (see `sticky`).',
  default: 'round-robin',
  examples: ['least-connections']
})

export const UpstreamTlsSchema = closed({
  enabled: Type.Optional(Type.Boolean({ description: 'connect with TLS.', defaultText: '`true` when `tls` is present', examples: [true] })),
  servername: Type.Optional(Type.String({ minLength: 1, description: 'SNI, the name the certificate must cover, and the `Host` sent upstream. Never an IP address.', defaultText: "the target's host name", examples: ['api.internal'] })),
  ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA that signs the upstream\'s certificate.', defaultText: 'the system\'s CAs', examples: ['certs/ca.crt'] })),
  cert: Type.Optional(Type.String({ minLength: 1, description: 'client certificate (PEM), for upstreams that require mTLS; with `key`.', examples: ['certs/client.crt'] })),
  key: Type.Optional(Type.String({ minLength: 1, description: 'client key (PEM), with `cert`.', examples: ['certs/client.key'] })),
  verify: Type.Optional(Type.Boolean({ description: 'verify the upstream\'s certificate. Turning it off is possible, and is on you.', default: true, examples: [false] }))
})

export const UpstreamTimeoutsSchema = closed({
  connect: Type.Optional(duration({ description: 'no connection within this → 504 `UPSTREAM_TIMEOUT` (measured precisely: 100 ms means ~100 ms).', default: '5s', examples: ['2s'] })),
  response: Type.Optional(duration({
    description: 'no response headers within this → 504; once the response began, no body bytes for one to two times this long → the response is cut. A client that reads slower than the upstream sends holds the upstream back (nothing is read ahead into memory), and that wait never counts against the upstream. Informational responses (`103`) do not count as the response.',
    default: '60s',
    examples: ['30s']
  })),
  idle: Type.Optional(duration({ description: 'an idle pooled connection is closed after at most this (caps `pool.keepAlive`). Also how long a WebSocket connection of a `websocket` route may stay silent, unless the route sets its own `timeouts.idle`.', default: '60s', examples: ['90s'] }))
})

/** Retry policy; a route's own (`inherited`) takes each key it leaves out from its upstream. */
const retriesSchema = (inherited: boolean) => {
  const from = (value: unknown): Annotations => inherited ? { defaultText: "the upstream's" } : { default: value }
  return closed({
    attempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'extra tries after the first, each on the balancer\'s next target.', ...from(1), examples: [2] })),
    on: Type.Optional(Type.Array(Type.Union([
      Type.Literal('connect-error'),
      Type.Integer({ minimum: 100, maximum: 599 })
    ], { errorMessage: 'must be "connect-error" or an HTTP status' }), {
      description: '`connect-error` (refused, reset, TLS failure or timed out before the response began) and HTTP statuses. When every try answers a listed status, the last answer is passed on.',
      ...from(['connect-error']),
      examples: [['connect-error', 502, 503]]
    })),
    methods: Type.Optional(Type.Array(HttpMethod, {
      description: 'only these methods are retried. A request body is resent only when not one byte of it had been sent.',
      ...from(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']),
      examples: [['GET', 'HEAD']]
    }))
  }, inherited ? 'overrides the upstream\'s retry policy for this route (a transparent route retries nothing unless it has its own).' : undefined)
}

export const RetriesSchema = retriesSchema(false)

/** Consecutive results that flip a target's state: 0 would flip on nothing. */
const threshold = (annotations: Annotations) => Type.Integer({ minimum: 1, maximum: 1000, errorMessage: 'must be a whole number from 1 to 1000', ...annotations })

/**
 * One object for every check type, so that a key given to the wrong type is reported by
 * name (`healthCheck.path: is only used with type: http`); which keys each type takes is
 * checked when the upstream is compiled.
 */
export const HealthCheckSchema = closed({
  type: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('http'), Type.Literal('custom')], {
    errorMessage: 'must be tcp, http or custom',
    description: '`tcp`: a connection must open (then closed at once; no TLS handshake, nothing sent). `http`: a `GET` of `path` must answer an expected status (and body). `custom`: a TypeScript function decides (`name`).',
    default: 'http',
    examples: ['tcp']
  })),
  // Node's own rule for a request path: visible Latin-1 only (no space or control character).
  path: Type.Optional(Type.String({ pattern: '^/[\\u0021-\\u00ff]*$', description: 'http: the path (and query) asked for.', default: '/', examples: ['/health'], errorMessage: 'must start with "/" and hold no space or control character' })),
  host: Type.Optional(Type.String({ minLength: 1, description: 'http: the `Host` header sent.', defaultText: '`tls.servername`, else the target\'s `host:port`', examples: ['health.internal'] })),
  expectStatus: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599, errorMessage: 'must be an HTTP status from 100 to 599' }), { minItems: 1, description: 'http: the statuses that pass.', defaultText: 'any 2xx or 3xx (as nginx)', examples: [[200, 204]] })),
  expectBody: Type.Optional(Type.String({ minLength: 1, description: 'http: a substring the body must contain, or `"/regex/flags"` it must match. Only the first 64 KiB of the body are read (the rest never is); a body that has not ended when the timeout comes fails. Regexes are checked as route regexes are: one that could backtrack exponentially is refused, and so are flags `g` and `y`.', examples: ['/^ok$/m'] })),
  name: Type.Optional(Type.String({ pattern: HEALTH_CHECK_NAME_PATTERN, description: 'custom: the name given to `defineHealthCheck` (letters, digits, `_ . : -`).', defaultText: 'required with `custom`', examples: ['db-ready'], errorMessage: 'must be letters, digits or _ . : -' })),
  interval: Type.Optional(duration({ description: 'time between two checks of a target; at least `10ms`.', default: '5s', examples: ['1s'] })),
  timeout: Type.Optional(duration({ description: 'a check that has not passed within this fails. Must be shorter than `interval`.', default: '1s', examples: ['500ms'] })),
  healthyThreshold: Type.Optional(threshold({ description: 'checks in a row that must pass to bring an unhealthy target back.', default: 1, examples: [2] })),
  unhealthyThreshold: Type.Optional(threshold({ description: 'checks in a row that must fail to take a healthy target out.', default: 1, examples: [3] }))
}, 'active health checks. `healthCheck: {}` is an HTTP `GET /` every 5 s.')

export const PassiveSchema = closed({
  consecutiveFailures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, errorMessage: 'must be a whole number from 1 to 1000', description: 'failed requests in a row that eject a target.', default: 5, examples: [3] })),
  ejectFor: Type.Optional(duration({ description: 'how long an ejected target gets no traffic.', default: '30s', examples: ['1m'] })),
  on: Type.Optional(Type.Array(Type.Union([
    Type.Literal('connect-error'),
    Type.Literal('timeout'),
    Type.Integer({ minimum: 400, maximum: 599 })
  ], { errorMessage: 'must be connect-error, timeout or an HTTP status from 400 to 599' }), {
    description: 'what counts as a failure: `connect-error` (refused, reset, TLS failure, the connection broken before the response began, an answer that is not HTTP, a connect timeout), `timeout` (connect, response and body timeouts), statuses from 400 to 599.',
    default: ['connect-error', 'timeout', 502, 503, 504],
    examples: [['connect-error', 503]]
  }))
}, 'passive health checks (ejection by real traffic). `passive: {}` takes the defaults; without it nothing is ejected.')

export const NotifySchema = closed({
  webhook: Type.String({ minLength: 1, description: 'an `http://` or `https://` URL POSTed a JSON event at each health change.', examples: ['http://127.0.0.1:9999/alerts'] })
})

/**
 * One object for every source type, as for health checks: a key given to the wrong type
 * is reported by name; which keys each type takes is checked in `discovery/config.ts`.
 */
export const DiscoverySchema = closed({
  type: Type.Union([Type.Literal('dns'), Type.Literal('file'), Type.Literal('docker')], {
    errorMessage: 'must be dns, file or docker',
    description: 'all: the source. A key another type uses is refused (`discovery.host: is only used with type: dns`).',
    examples: ['dns']
  }),
  host: Type.Optional(Type.String({ minLength: 1, description: 'dns: the name to resolve.', defaultText: 'required with dns', examples: ['blue.internal'] })),
  record: Type.Optional(Type.Union([Type.Literal('A'), Type.Literal('AAAA'), Type.Literal('SRV')], {
    errorMessage: 'must be A, AAAA or SRV',
    description: 'dns: `A` or `AAAA`: one target per address at `port`. `SRV`: one target per record\'s host (resolved by the same servers), at the record\'s port, with its weight (0 counts as 1); records of the lowest priority are primaries, the others backups.',
    default: 'A',
    examples: ['SRV']
  })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'dns, docker: the targets\' port. Refused with SRV. For docker, used when a container has no `tollgate.port` label.', defaultText: 'required with dns A and AAAA', examples: [8080], errorMessage: 'must be a port from 1 to 65535' })),
  servers: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'dns: resolvers to ask, as IP addresses with an optional port (`127.0.0.1:5353`, `[::1]:53`, `::1`); names are refused. Each question is tried twice, 2 s each.', defaultText: 'the system\'s resolvers', examples: [['127.0.0.1:5353']] })),
  path: Type.Optional(Type.String({ minLength: 1, description: 'file: the file, relative to the config file\'s folder. One that does not exist yet is accepted and logged once; it is read when it appears.', defaultText: 'required with file', examples: ['upstreams/blue.txt'] })),
  socketPath: Type.Optional(Type.String({ minLength: 1, description: 'docker: the Engine API\'s Unix socket.', defaultText: 'required with docker', examples: ['/var/run/docker.sock'] })),
  labels: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: 'docker: labels a running container must carry (at least one).', defaultText: 'required with docker', examples: [{ app: 'blue' }] })),
  network: Type.Optional(Type.String({ minLength: 1, description: 'docker: the network whose address is used; a container not on it (or, without `network`, on several) is left out.', defaultText: 'the container\'s only network', examples: ['bridge'] })),
  interval: Type.Optional(duration({ description: 'all: how often the source is asked (at least `100ms`).', default: '10s', examples: ['30s'] }))
}, 'more targets from DNS, a file or Docker.')

export const UpstreamSchema = closed({
  targets: Type.Optional(Type.Array(TargetSchema, {
    description: '`"host:port"`, `{ address: "host:port", weight: 3 }` (weight 1 to 1000, default 1) or `{ socketPath: /run/app.sock }`. IPv6 as `[::1]:8080`. A missing port is 80 (443 with TLS).',
    defaultText: 'required, at least one (none needed with `discovery`)',
    examples: [['127.0.0.1:3001', { address: '127.0.0.1:3002', weight: 3 }]]
  })),
  backup: Type.Optional(Type.Array(TargetSchema, { description: 'targets used only when every primary target is unavailable (tried after all primaries, by retries too).', default: [], examples: [['127.0.0.1:3009']] })),
  discovery: Type.Optional(DiscoverySchema),
  balancer: Type.Optional(BalancerSchema),
  hash: Type.Optional(closed({
    key: Type.String({
      pattern: '^(ip|path|query|url|header:[^\\s:]+|cookie:[^\\s;=]+)$',
      errorMessage: 'must be ip, path, query, url, header:<name> or cookie:<name>',
      description: 'consistent-hash key: `ip`, `path`, `query`, `url`, `header:<name>`, `cookie:<name>` (the name an HTTP token). Ketama ring, 160 points per unit of weight: removing one of N targets remaps about 1/N of keys.',
      defaultText: '`ip` (without `hash`)',
      examples: ['header:x-user-id']
    })
  })),
  sticky: Type.Optional(closed({
    cookie: Type.Optional(Type.String({ pattern: TOKEN_PATTERN, errorMessage: 'is not a valid cookie name', description: 'sticky-cookie: the cookie naming the target (an opaque token, not the address). Issued on the first response, honoured on every path, re-issued when its target is gone.', default: 'tollgate_session', examples: ['backend'] })),
    ttl: Type.Optional(duration({ description: 'the cookie\'s Max-Age.', default: '1h', examples: ['30m'] }))
  })),
  protocol: Type.Optional(Type.Union([Type.Literal('http1'), Type.Literal('h2'), Type.Literal('h2c')], {
    errorMessage: 'must be http1, h2 or h2c',
    description: 'what carries requests to the targets: `http1` (HTTP/1.1, pooled connections), `h2` (HTTP/2 over TLS, negotiated by ALPN: needs `tls`) or `h2c` (cleartext HTTP/2 by prior knowledge). h2 and h2c multiplex many requests on one connection, forward response trailers (gRPC), and are used whatever `server.engine` says.',
    default: 'http1',
    examples: ['h2c']
  })),
  tls: Type.Optional(UpstreamTlsSchema),
  proxy: Type.Optional(closed({
    url: Type.String({
      minLength: 1,
      description: 'an `http://host:port` forward proxy every target is reached through with `CONNECT` (TLS to the target runs inside the tunnel: SNI, certificates and verification as without a proxy). `http://user:password@host:port` sends them as `Proxy-Authorization: Basic` (shown as `***` by `GET /config`, never logged). `https://` proxies are not supported. A tunnel is a pooled connection like any other; a proxy that refuses or cannot be reached is a connect error (502, retried, counted by passive checks). Health checks go through the proxy too. Not for Unix socket targets.',
      examples: ['http://127.0.0.1:3128']
    })
  }, 'reach targets through an HTTP CONNECT forward proxy.')),
  timeouts: Type.Optional(UpstreamTimeoutsSchema),
  pool: Type.Optional(closed({
    connections: Type.Optional(Type.Integer({ minimum: 1, description: 'most connections per target.', defaultText: 'unlimited', examples: [128] })),
    keepAlive: Type.Optional(duration({ description: 'how long an idle connection is kept for reuse (a shorter `Keep-Alive: timeout` from the upstream wins).', default: '30s', examples: ['10s'] }))
  })),
  retries: Type.Optional(RetriesSchema),
  healthCheck: Type.Optional(HealthCheckSchema),
  passive: Type.Optional(PassiveSchema),
  notify: Type.Optional(NotifySchema)
})

// ---------------------------------------------------------------- routes

export const HeaderRulesSchema = closed({
  set: Type.Optional(StringMap({ description: 'headers to set, replacing any of the same name. In `requestHeaders`, `set.host` overrides the Host sent upstream.', examples: [{ 'x-proxy': 'tollgate' }] })),
  remove: Type.Optional(Type.Array(HeaderName, { description: 'headers to remove.', examples: [['x-powered-by']] })),
  copy: Type.Optional(StringMap({ description: '`{ from: to }`: each header `from` is also sent as `to`.', examples: [{ date: 'x-legacy-date' }] }))
})

export const RouteMatchSchema = closed({
  host: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
    description: '`api.example.com` (exact, any case, port ignored) or `*.example.com` (any subdomain, not the bare domain); or a list.',
    defaultText: 'any',
    examples: ['*.example.com']
  })),
  path: Type.Optional(Type.String({ minLength: 1, description: '`/x` exact, `/x/*` prefix (matches `/x` and `/x/…`, not `/xy`), `/*` anything, or `~ ^/x/(\\d+)$` a regular expression (one that could take exponential time is refused, see [Refused configs](#refused-configs)).', defaultText: 'any', examples: ['/users/*'] })),
  methods: Type.Optional(Type.Array(HttpMethod, { minItems: 1, description: 'the methods the route takes. Without it, every method but `TRACE`.', defaultText: 'any but TRACE', examples: [['GET', 'POST']] })),
  headers: Type.Optional(StringMap({ description: 'each header must have exactly this value.', examples: [{ 'x-version': 'v2' }] }))
})

export const RewriteSchema = closed({
  stripPrefix: Type.Optional(Type.String({ pattern: '^/', errorMessage: 'must start with "/"', description: 'remove this prefix (at a segment boundary) from the path sent upstream.', examples: ['/users'] })),
  path: Type.Optional(Type.String({ minLength: 1, description: 'template for the whole path: `{rest}` (what a prefix\'s `*` matched, without its leading slash), `{1}`, `{2}`… and `{name}` (regex groups). Wins over `stripPrefix`.', examples: ['/v2/users/{rest}'] })),
  query: Type.Optional(closed({
    remove: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'parameter names to drop; `*` globs allowed (`utm_*`).', examples: [['debug', 'utm_*']] })),
    set: Type.Optional(StringMap({ description: 'parameters to set (replacing, or appended). Others keep their order and encoding.', examples: [{ ref: 'tollgate' }] }))
  }))
})

// ---------------------------------------------------------------- traffic control and auth

const cidrs = (annotations: Annotations) => Type.Array(Type.String({ minLength: 1, description: 'an address or CIDR: 10.0.0.0/8, 127.0.0.1, ::1/128' }), annotations)

export const IpFilterSchema = closed({
  allow: Type.Optional(cidrs({ description: 'only these addresses or CIDRs may pass.', defaultText: 'everyone', examples: [['10.0.0.0/8', '::1']] })),
  deny: Type.Optional(cidrs({ description: 'these are refused; deny wins over allow.', examples: [['10.0.0.66/32']] }))
}, '403 `IP_FORBIDDEN` for a client `allow` does not list or `deny` does. The client is the socket\'s peer, or, when that peer is in `server.trustProxy`, the right-most `X-Forwarded-For` entry that is not (a client cannot pass by forging the header). An IPv4 client of a dual-stack listener (`::ffff:10.0.0.1`) is matched as `10.0.0.1`.')

/** `ip`, `route`, `header:<name>`, `claim:<name>` or `principal`. */
const LimitKey = Type.String({
  pattern: "^(ip|route|principal|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|claim:[^\\s]+)$",
  errorMessage: 'must be ip, route, principal, header:<name> or claim:<name>',
  description: 'who shares a count: `ip`, `route` (everyone), `header:<name>`, `claim:<name>` or `principal`.',
  default: 'ip',
  examples: ['header:x-api-key']
})

export const RateLimitSchema = closed({
  limit: Type.Integer({ minimum: 1, description: 'requests per window; the next gets 429 `RATE_LIMITED` with `Retry-After`.', examples: [100] }),
  window: duration({ description: 'the window (at least 1 ms).', examples: ['1m'] }),
  algorithm: Type.Optional(Type.Union([Type.Literal('fixed-window'), Type.Literal('sliding-window')], { errorMessage: 'must be fixed-window or sliding-window', description: '`fixed-window` or `sliding-window`, see below.', default: 'fixed-window', examples: ['sliding-window'] })),
  key: Type.Optional(LimitKey),
  store: Type.Optional(Type.Union([Type.Literal('memory'), Type.Literal('redis')], { errorMessage: 'must be memory or redis', description: 'where counts are kept: this process, or the top-level `redis` (shared by every gateway using it).', default: 'memory', examples: ['redis'] })),
  onStoreError: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')], { errorMessage: 'must be open or closed', description: 'when Redis fails: `open` serves uncounted, `closed` answers 503.', default: 'open', examples: ['closed'] }))
}, 'at most `limit` requests per `window`.')

export const ConcurrencySchema = closed({
  limit: Type.Integer({ minimum: 1, description: 'requests of the route in flight at once; the next gets 429 `TOO_MANY_CONCURRENT` at once. A slot is given back when the response closes, whatever ended it. Counts are per config version: during a reload the old and new versions count apart.', examples: [2] }),
  key: Type.Optional(Type.Union([Type.Literal('route'), Type.Literal('ip')], { errorMessage: 'must be route or ip', description: '`route`: one count for everyone; `ip`: one per client address.', default: 'route', examples: ['ip'] }))
})

export const InspectSchema = closed({
  block: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'words, or `"/regex/flags"`: a match → 403 `REQUEST_BLOCKED`, and the upstream receives nothing. Words are searched as bytes (a word split across TCP writes is found); regexes run on the held bytes as UTF-8 and are refused at load if they could backtrack exponentially.', examples: [['rogue', '/union\\s+select/i']] }),
  maxBytes: Type.Optional(size({ description: 'the first `maxBytes` of the body are held back and searched before anything is sent upstream; what comes after is not inspected.', default: '1mb', examples: ['64kb'] }))
})

/**
 * One object for every auth type, so that a key given to the wrong type is reported by
 * name (`routes[0].auth.tokens: is only used with type: bearer`) rather than as a failed
 * union; which keys each type takes is checked when the route is compiled.
 */
export const AuthSchema = closed({
  type: Type.Union([Type.Literal('bearer'), Type.Literal('basic'), Type.Literal('jwt'), Type.Literal('custom')], { errorMessage: 'must be bearer, basic, jwt or custom', description: 'all: the scheme. A key of another type is refused by name (`routes[0].auth.users: is only used with type: basic`).', examples: ['jwt'] }),
  tokens: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'bearer: the accepted tokens (`Authorization: Bearer <token>`); write them as `${ENV}` references. Only their SHA-256 digests are kept, and a presented token is compared with every one of them in constant time.', defaultText: 'required with bearer', examples: [['${API_TOKEN}']] })),
  realm: Type.Optional(Type.String({ minLength: 1, description: 'all: named in the `WWW-Authenticate` challenge.', default: 'tollgate', examples: ['api'] })),
  users: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), { description: 'basic: user name → scrypt hash printed by `tollgate hash-password` (`scrypt$N$r$p$salt$hash`).', defaultText: 'required with basic', examples: [{ alice: 'scrypt$16384$8$1$…' }] })),
  secret: Type.Optional(Type.String({ minLength: 1, description: 'jwt: HMAC secret (`HS256`, `HS384`, `HS512`). One of `secret`, `publicKey`, `jwksUrl`.', examples: ['${JWT_SECRET}'] })),
  publicKey: Type.Optional(Type.String({ minLength: 1, description: 'jwt: a PEM file, relative to the config file\'s folder: a public key, a certificate or a private key (only its public part is kept), read once at load. RSA keys verify `RS*` and `PS*`, EC keys the `ES*` of their curve, Ed25519/Ed448 keys `EdDSA`.', examples: ['keys/api.pem'] })),
  jwksUrl: Type.Optional(Type.String({ minLength: 1, description: 'jwt: an `http:` or `https:` URL of a JSON Web Key Set. Keys are fetched when first needed and cached for 60 s by `alg` and `kid`; an unknown `kid` makes the set be fetched again (at most once per 10 s for never-seen ones). A key fetched before keeps being used while the key server is down.', examples: ['https://idp.example/.well-known/jwks.json'] })),
  algorithms: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'jwt: the accepted `alg` values. `none` is never accepted, and an algorithm the key cannot verify is refused at load (`HS256` with a public key: the classic algorithm-confusion attack).', defaultText: 'what the key verifies', examples: [['RS256']] })),
  issuer: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], { description: 'jwt: `iss` must be present and one of them.', examples: ['https://idp.example/'] })),
  audience: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], { description: 'jwt: `aud` must be present and name one of them.', examples: ['api'] })),
  clockTolerance: Type.Optional(duration({ description: 'jwt: leeway for `exp` and `nbf`.', default: 0, examples: ['5s'] })),
  forwardClaims: Type.Optional(Type.Record(Type.String({ minLength: 1 }), HeaderName, { description: 'jwt: `{ claim: header }`: each claim of a verified token is sent upstream as that header (strings as they are, numbers and booleans as text, anything else as JSON). A client\'s own copy of these headers is always removed first. Headers the gateway sets or that frame the request are refused.', examples: [{ sub: 'x-user-id' }] })),
  forward: Type.Optional(Type.Boolean({ description: 'all: send the client\'s `Authorization` header upstream. By default it is removed: the upstream never sees the credentials.', default: false, examples: [true] })),
  name: Type.Optional(Type.String({ minLength: 1, description: 'custom: the name of a hook registered with `defineAuth`.', defaultText: 'required with custom', examples: ['api-key'] })),
  timeout: Type.Optional(duration({ description: 'all: how long a custom hook, or fetching the keys of a `jwksUrl`, may take; past it the request gets 503. At least 1 ms.', default: '5s', examples: ['2s'] }))
}, 'who the client is: `bearer`, `basic`, `jwt` or `custom`.')

export const RouteCacheSchema = closed({
  ttl: Type.Optional(duration({ description: 'how long a response stays fresh when the origin gives no freshness (`s-maxage`, `max-age`, `Expires`); `0s`: only what the origin says is stored. It never overrides the origin.', default: '0s', examples: ['30s'] })),
  staleWhileRevalidate: Type.Optional(duration({ description: 'after a response went stale, how long it is still served at once while one background request refreshes it, when the origin sends no `stale-while-revalidate`.', default: '0s', examples: ['10s'] })),
  staleIfError: Type.Optional(duration({ description: 'after a response went stale, how long it is served instead of an upstream failure (no connection, timeout, 500, 502, 503, 504), when the origin sends no `stale-if-error`.', default: '0s', examples: ['60s'] })),
  lock: Type.Optional(Type.Boolean({ description: 'concurrent misses of one URL make one upstream request; the others wait for its response (at most the route\'s response timeout) and are answered from it.', default: true, examples: [false] })),
  maxObjectSize: Type.Optional(size({ description: 'a larger body is streamed to the client and not stored.', default: '1mb', examples: ['10mb'] })),
  purge: Type.Optional(closed({
    allow: Type.Optional(cidrs({ description: 'addresses or CIDRs that may send `PURGE <path>` to the proxy listener; anyone else gets 403 `FORBIDDEN`.', defaultText: '`[127.0.0.1/32, ::1/128]`', examples: [['127.0.0.1/32', '10.0.0.0/8']] }))
  })),
  cdnHeader: Type.Optional(Type.Union([Type.Literal('forward'), Type.Literal('consume')], { errorMessage: 'must be forward or consume', description: '`CDN-Cache-Control` (RFC 9213) is always read before `Cache-Control`; `consume` also removes it from the response the client gets.', default: 'forward', examples: ['consume'] }))
}, 'store the upstream\'s responses and answer from them (RFC 9111 shared cache); `{}` turns it on with the defaults; [cache.md](cache.md) tells how it behaves.')

export const RouteSchema = closed({
  name: Type.String({ minLength: 1, description: 'unique among routes.', examples: ['users'] }),
  match: Type.Optional(RouteMatchSchema),
  upstream: Type.Optional(Type.String({ minLength: 1, description: 'the upstream\'s name.', examples: ['blue'] })),
  transparent: Type.Optional(Type.Boolean({ description: '`true` instead of `upstream`: forward to the request\'s own `Host` (port 80 by default). Only for trusted networks: the client chooses the destination.', default: false, examples: [true] })),
  websocket: Type.Optional(Type.Boolean({ description: 'accept `Upgrade: websocket`: the IP filter, auth, rate limit and concurrency limit run first, then the upstream\'s `101` (with its subprotocol and extensions) is relayed and bytes pass both ways until either side closes or `timeouts.idle` passes. Without it, an upgrade gets 400 `BAD_REQUEST`. See [websocket.md](websocket.md).', default: false, examples: [true] })),
  rewrite: Type.Optional(RewriteSchema),
  requestHeaders: Type.Optional(closed(HeaderRulesSchema.properties, 'applied to the request sent upstream. Names must be HTTP tokens and values what Node sends (see [Refused configs](#refused-configs)).')),
  responseHeaders: Type.Optional(closed(HeaderRulesSchema.properties, 'applied to the response sent to the client.')),
  timeouts: Type.Optional(closed({
    connect: Type.Optional(duration({ description: 'overrides the upstream\'s `timeouts.connect` for this route. Only a shorter value takes effect on HTTP upstreams: their connections give up at the upstream\'s own `timeouts.connect`, so raise that one for a route that must wait longer (WebSocket routes use the route\'s value either way).', defaultText: "the upstream's", examples: ['100ms'] })),
    response: Type.Optional(duration({ description: 'overrides the upstream\'s `timeouts.response` for this route.', defaultText: "the upstream's", examples: ['5s'] })),
    idle: Type.Optional(duration({ description: 'with `websocket: true`: a WebSocket connection that carries no byte either way for this long is closed (a close frame `1001` each way). HTTP timeouts never apply to it.', defaultText: "the upstream's `timeouts.idle`", examples: ['10m'] }))
  })),
  retries: Type.Optional(retriesSchema(true)),
  ipFilter: Type.Optional(IpFilterSchema),
  rateLimit: Type.Optional(RateLimitSchema),
  concurrency: Type.Optional(ConcurrencySchema),
  bodyLimit: Type.Optional(size({ description: 'a declared `Content-Length` over it gets 413 `PAYLOAD_TOO_LARGE` before a byte is read (and before `100 Continue`); a chunked body is counted as it streams and cut at the first byte over with 413.', defaultText: '`server.limits.bodyLimit`', examples: ['100kb'] })),
  inspect: Type.Optional(InspectSchema),
  auth: Type.Optional(AuthSchema),
  cache: Type.Optional(RouteCacheSchema)
})

// ---------------------------------------------------------------- the whole file

export const RedisSchema = closed({
  url: Type.String({ minLength: 1, description: '`redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Used by routes with `rateLimit.store: redis` (one connection, opened only when such a route exists), and to share the config between instances (two more connections; see [admin-api.md](admin-api.md#several-instances)).', examples: ['redis://127.0.0.1:6379'] }),
  commandTimeout: Type.Optional(duration({ description: 'how long a request waits for Redis to answer a count; past it the hit counts as a store failure and the route\'s `onStoreError` decides (served uncounted, or 503).', default: '250ms', examples: ['100ms'] }))
}, 'the Redis server shared counts and configs are kept in.')

// ---------------------------------------------------------------- admin API

export const AdminSchema = closed({
  listen: Type.Optional(closed({
    host: Type.Optional(Type.String({ minLength: 1, description: 'address to bind. Not loopback (`127.0.0.0/8`, `::1`, `localhost`) needs a `token`.', default: '127.0.0.1', examples: ['0.0.0.0'] })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: '`0` picks a free one.', default: 9090, examples: [9090] }))
  })),
  token: Type.Optional(Type.String({ minLength: 1, description: 'every admin request must send `Authorization: Bearer <token>`; write it as `${TOLLGATE_ADMIN_TOKEN}` to keep it out of the file. Hidden as `"***"` by `GET /config`. Required when `listen.host` is not loopback.', examples: ['${TOLLGATE_ADMIN_TOKEN}'] }))
}, 'the admin API listener; absent = none.')

// ---------------------------------------------------------------- metrics

export const MetricsSchema = closed({
  listen: Type.Optional(closed({
    host: Type.Optional(Type.String({ minLength: 1, description: 'address to bind. The endpoint has no token: bind it where only your Prometheus reaches it.', default: '127.0.0.1', examples: ['0.0.0.0'] })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: '`0` picks a free one.', default: 9091, examples: [9091] }))
  })),
  path: Type.Optional(Type.String({ pattern: '^/[^?#\\s]*$', description: 'where `GET` (and `HEAD`) answers the Prometheus text format (0.0.4); any other path is 404.', default: '/metrics', examples: ['/metrics'], errorMessage: 'must be a path starting with /' }))
}, 'the Prometheus metrics listener; absent = none.')

// ---------------------------------------------------------------- HTTP cache

export const CacheSchema = closed({
  store: Type.Optional(Type.Union([Type.Literal('memory'), Type.Literal('redis')], { errorMessage: 'must be memory or redis', description: 'where cached responses live: this process, or the top-level `redis` (shared by every gateway using it).', default: 'memory', examples: ['redis'] })),
  maxSize: Type.Optional(size({ description: 'memory store: the bytes it may hold (bodies, headers and a fixed cost per entry); the least recently used go first beyond it.', default: '256mb', examples: ['1gb'] }))
}, 'where the responses of routes with `cache` are kept.')

export const GatewayConfigSchema = closed({
  server: Type.Optional(ServerSchema),
  admin: Type.Optional(AdminSchema),
  metrics: Type.Optional(MetricsSchema),
  redis: Type.Optional(RedisSchema),
  cache: Type.Optional(CacheSchema),
  // Closed like every object: a name outside the pattern would otherwise go unchecked.
  upstreams: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }), UpstreamSchema, { additionalProperties: false, errorMessage: 'is not a valid upstream name (letters, digits, _ . - only)', description: 'the servers requests are sent to, by name.' })),
  routes: Type.Optional(Type.Array(RouteSchema, { description: 'tried in order; the first match wins.' }))
})

export type DurationValue = Static<typeof Duration>
export type SizeValue = Static<typeof Size>
export type ListenConfig = Static<typeof ListenSchema>
export type ServerConfig = Static<typeof ServerSchema>
export type MetricsConfig = Static<typeof MetricsSchema>
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
export type CacheConfig = Static<typeof CacheSchema>
export type RouteCacheConfig = Static<typeof RouteCacheSchema>
/** A route as written in the config file (no hooks: those exist only in TypeScript). */
export type RouteFileConfig = Static<typeof RouteSchema>
/** The config file as written (YAML, JSON or `defineGateway`), before compilation. */
export type GatewayFileConfig = Static<typeof GatewayConfigSchema>

export type { TSchema }
