/**
 * An upstream's `proxy.url`: the HTTP forward proxy its targets are reached through with
 * `CONNECT`. Parsed at config load; what runs holds no URL, so that nothing it logs can
 * carry the proxy's credentials.
 */
import { isIP } from 'node:net'
import { formatHostPort } from '../net/address.js'

export interface CompiledProxy {
  readonly host: string
  readonly port: number
  /** `host:port`: how logs and errors name the proxy (never with its credentials). */
  readonly id: string
  /** `Basic …` from the URL's user and password, or null without them. */
  readonly authorization: string | null
}

/** Parses an `http://[user[:password]@]host[:port][/]` URL; throws a readable Error. */
export function parseProxyUrl (text: string): CompiledProxy {
  let url: URL
  // `localhost:3128` parses as a URL of scheme `localhost:`; a missing scheme is what it is.
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) throw new Error('is not a URL (write http://host:port)')
  try {
    url = new URL(text)
  } catch {
    throw new Error('is not a URL (write http://host:port)')
  }
  if (url.protocol === 'https:') throw new Error('https:// proxies are not supported: the gateway speaks plain HTTP to the proxy (write http://host:port); TLS to the target runs inside the tunnel')
  if (url.protocol !== 'http:') throw new Error(`must be an http:// URL, not ${url.protocol}//`)
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new Error('must be http://host:port, without a path, query or fragment')
  }
  if (url.hostname === '') throw new Error('has no host')
  // URL keeps IPv6 literals in brackets; the socket wants the bare address.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === '' ? 80 : Number(url.port)
  let authorization: string | null = null
  if (url.username !== '' || url.password !== '') {
    const user = decode(url.username)
    const password = decode(url.password)
    // RFC 7617: the user id of Basic credentials cannot hold a colon.
    if (user.includes(':')) throw new Error('has a user name with a colon, which Basic credentials cannot carry')
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
  }
  return { host, port, id: isIP(host) === 6 ? formatHostPort(host, port) : `${host}:${port}`, authorization }
}

function decode (component: string): string {
  try {
    return decodeURIComponent(component)
  } catch {
    throw new Error('has credentials with an invalid %-escape')
  }
}
