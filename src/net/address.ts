/**
 * `host:port` as users write it in targets and listeners: IPv4, bracketed IPv6
 * (`[::1]:8080`) or a hostname. Parsed at config load only.
 */
import { isIP } from 'node:net'

export interface HostPort {
  readonly host: string
  readonly port: number
}

/** Parses `host[:port]`; `defaultPort` is used when the port is left out. Throws a readable Error. */
export function parseHostPort (text: string, defaultPort: number): HostPort {
  const value = text.trim()
  let host: string
  let portText: string | undefined
  if (value.startsWith('[')) {
    const end = value.indexOf(']')
    if (end < 0) throw new Error(`"${text}" is not host:port (missing "]")`)
    host = value.slice(1, end)
    const after = value.slice(end + 1)
    if (after !== '' && !after.startsWith(':')) throw new Error(`"${text}" is not host:port`)
    portText = after === '' ? undefined : after.slice(1)
    if (isIP(host) !== 6) throw new Error(`"${host}" is not an IPv6 address`)
  } else {
    const colon = value.lastIndexOf(':')
    if (colon >= 0 && value.indexOf(':') !== colon) {
      throw new Error(`"${text}": write IPv6 addresses in brackets, as [::1]:8080`)
    }
    host = colon >= 0 ? value.slice(0, colon) : value
    portText = colon >= 0 ? value.slice(colon + 1) : undefined
  }
  if (host === '') throw new Error(`"${text}" has no host`)
  if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(host)) {
    throw new Error(`"${host}" is not a valid host name or IP address`)
  }
  let port = defaultPort
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw new Error(`"${text}" has an invalid port`)
    port = Number(portText)
    if (port < 1 || port > 65535) throw new Error(`"${text}": port must be 1-65535`)
  }
  return { host, port }
}

/** `host:port` for logs, origins and ids, bracketing IPv6. */
export function formatHostPort (host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

/**
 * True for hosts only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped) and
 * `localhost`. Anything else, a hostname included, may resolve to an outside interface.
 */
export function isLoopbackHost (host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (bare.toLowerCase() === 'localhost' || bare === '::1') return true
  const v4 = bare.toLowerCase().startsWith('::ffff:') ? bare.slice(7) : bare
  return isIP(v4) === 4 && v4.startsWith('127.')
}
