/**
 * Checks on a request head that Node's parser lets through but no route should see: too
 * many header lines, a missing, repeated or malformed Host, and protocol upgrades no route
 * accepts. Run by the listener before the request reaches the app, on compiled limits
 * only; testable without a server.
 */
import type { IncomingMessage } from 'node:http'

/** Why a request is refused before routing. */
export interface HeadProblem {
  readonly status: number
  readonly message: string
}

export const TOO_MANY_HEADERS: HeadProblem = { status: 431, message: 'too many request headers' }
export const HEADERS_TOO_LARGE: HeadProblem = { status: 431, message: 'request headers are too large' }
export const HOST_MISSING: HeadProblem = { status: 400, message: 'an HTTP/1.1 request needs a Host header' }
export const HOST_REPEATED: HeadProblem = { status: 400, message: 'more than one Host header' }
export const HOST_INVALID: HeadProblem = { status: 400, message: 'the Host header is not host[:port]' }
export const UPGRADE_REFUSED: HeadProblem = { status: 400, message: 'protocol upgrades are not accepted here' }
export const UPGRADE_WITH_BODY: HeadProblem = { status: 400, message: 'an upgrade request cannot carry a body' }
export const AUTHORITY_MISSING: HeadProblem = { status: 400, message: 'an HTTP/2 request needs :authority or a Host header' }
export const AUTHORITY_CONFLICT: HeadProblem = { status: 400, message: 'Host and :authority name different hosts' }
export const CONNECT_REFUSED: HeadProblem = { status: 400, message: 'CONNECT is not accepted here' }

/**
 * `maxHeaders`: header lines allowed. The listener sets Node's `maxHeadersCount` one
 * above it, so `rawHeaders` shows an excess without Node keeping thousands of them.
 */
export function checkRequestHead (req: IncomingMessage, maxHeaders: number): HeadProblem | null {
  const raw = req.rawHeaders
  if (raw.length > maxHeaders * 2) return TOO_MANY_HEADERS
  // Node keeps the first of several Host headers and drops the rest silently; two Hosts
  // are the classic way to make a gateway and an upstream disagree on the target.
  let hosts = 0
  let host = ''
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++
      host = raw[i + 1] as string
    }
  }
  if (hosts > 1) return HOST_REPEATED
  if (hosts === 0) return req.httpVersionMajor === 1 && req.httpVersionMinor === 0 ? null : HOST_MISSING
  if (!isHostPort(host)) return HOST_INVALID
  return null
}

/**
 * The same checks for an HTTP/2 request, whose target host is `:authority` (RFC 9113
 * §8.3.1). A Host header that names another host is refused: the gateway would route on
 * one and an upstream might read the other. On success the host is copied into
 * `headers.host`, where routing and the upstream headers read it for both protocols.
 * Pseudo-header fields do not count against `maxHeaders`; they do count in the size.
 */
export function checkH2RequestHead (req: IncomingMessage, maxHeaders: number, maxHeaderSize: number): HeadProblem | null {
  const raw = req.rawHeaders
  let pseudo = 0
  let hosts = 0
  let size = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    size += name.length + (raw[i + 1] as string).length
    if (name.charCodeAt(0) === 58 /* : */) pseudo++
    else if (name === 'host') hosts++
  }
  if (raw.length - pseudo * 2 > maxHeaders * 2) return TOO_MANY_HEADERS
  // nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but lets a larger list through: the
  // decoded names and values are measured here, as HTTP/1.1's parser measures the head.
  if (size > maxHeaderSize) return HEADERS_TOO_LARGE
  if (req.method === 'CONNECT') return CONNECT_REFUSED
  if (hosts > 1) return HOST_REPEATED
  const authority = req.headers[':authority']
  const host = req.headers.host
  const target = typeof authority === 'string' ? authority : host
  if (target === undefined) return AUTHORITY_MISSING
  if (!isHostPort(target)) return HOST_INVALID
  if (host !== undefined && host.toLowerCase() !== target.toLowerCase()) return AUTHORITY_CONFLICT
  req.headers.host = target
  return null
}

/**
 * `Upgrade` with `Connection: upgrade` (Node's parser stops reading the connection after
 * such a request, so requests pipelined behind it would be lost). `h2c` asks for an
 * optional upgrade a server may ignore (RFC 9113 §3.1): the request is served over
 * HTTP/1.1 and the connection closed after it. `websocket` goes to its route, which
 * decides (routes with `websocket: true`). Any other protocol is refused.
 */
export function upgradeRequested (req: IncomingMessage): 'none' | 'optional' | 'websocket' | 'refused' {
  const upgrade = req.headers.upgrade
  if (upgrade === undefined) return 'none'
  const connection = req.headers.connection
  if (connection === undefined || !/(?:^|,)\s*upgrade\s*(?:,|$)/i.test(connection)) return 'none'
  if (/^\s*h2c\s*$/i.test(upgrade)) return 'optional'
  return /^\s*websocket\s*$/i.test(upgrade) ? 'websocket' : 'refused'
}

/**
 * Node gives an upgrade request no body: whatever follows its head is handed over raw.
 * A request that declares one would have it taken for protocol bytes, so it is refused.
 */
export function declaresBody (req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * `host[:port]` as RFC 9110 §7.2 allows it: a registered name (letters, digits, `-._~`,
 * sub-delims, percent escapes), an IPv4 address, or a bracketed IPv6 address, then an
 * optional port of digits. Empty, spaces, `/`, `@`, `?`, `#` and the like are refused.
 */
export function isHostPort (host: string): boolean {
  if (host === '') return false
  let end = host.length
  let i = 0
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']')
    if (close < 2) return false
    for (i = 1; i < close; i++) if (!isIpLiteralChar(host.charCodeAt(i))) return false
    i = close + 1
    if (i === end) return true
    if (host.charCodeAt(i) !== 58 /* : */) return false
    return isPort(host, i + 1, end)
  }
  const colon = host.lastIndexOf(':')
  if (colon >= 0) {
    if (!isPort(host, colon + 1, end)) return false
    end = colon
  }
  if (end === 0) return false
  for (i = 0; i < end; i++) if (!isRegNameChar(host.charCodeAt(i))) return false
  return true
}

function isPort (text: string, start: number, end: number): boolean {
  if (end - start > 5) return false
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return end === start || Number(text.slice(start, end)) <= 65535
}

/** unreserved / sub-delims / "%" (RFC 3986 reg-name). */
function isRegNameChar (c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) ||
    c === 45 /* - */ || c === 46 /* . */ || c === 95 /* _ */ || c === 126 /* ~ */ || c === 37 /* % */ ||
    c === 33 || c === 36 || (c >= 38 && c <= 44) || c === 59 || c === 61 // ! $ & ' ( ) * + , ; =
}

/** Hex digits, `:` and `.` (IPv6, with an embedded IPv4 or a zone is not allowed in Host). */
function isIpLiteralChar (c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 46
}
