/**
 * Certificates of a TLS listener, chosen by SNI: an exact name first, then a wildcard
 * (`*.example.com` covers one label), else the first certificate. Names come from each
 * certificate's subjectAltName (and its CN when it has none), read once at load.
 */
import { X509Certificate } from 'node:crypto'
import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls'
import type { CompiledTlsCert } from '../config/compile.js'

/** TLS 1.0 and 1.1 are deprecated (RFC 8996); Node's default minimum can be lowered by a flag. */
export const TLS_MIN_VERSION: SecureVersion = 'TLSv1.2'

export interface CertificateSelector {
  readonly defaultContext: SecureContext
  select (servername: string): SecureContext
}

export function buildCertificateSelector (certs: readonly CompiledTlsCert[]): CertificateSelector {
  const exact = new Map<string, SecureContext>()
  const wildcard = new Map<string, SecureContext>()
  let defaultContext: SecureContext | undefined
  for (const { cert, key } of certs) {
    const context = createSecureContext({ cert, key, minVersion: TLS_MIN_VERSION })
    defaultContext ??= context
    for (const name of namesOf(cert)) {
      if (name.startsWith('*.')) { if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), context) } else if (!exact.has(name)) exact.set(name, context)
    }
  }
  if (defaultContext === undefined) throw new Error('a TLS listener needs at least one certificate')
  const fallback = defaultContext
  return {
    defaultContext: fallback,
    select (servername) {
      const name = servername.toLowerCase()
      const found = exact.get(name)
      if (found !== undefined) return found
      const dot = name.indexOf('.')
      return (dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined) ?? fallback
    }
  }
}

function namesOf (pem: Buffer): string[] {
  const x509 = new X509Certificate(pem)
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map(s => s.trim())
    .filter(s => s.startsWith('DNS:'))
    .map(s => s.slice(4).toLowerCase())
  if (names.length > 0) return names
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)
  return cn?.[1] !== undefined ? [cn[1].toLowerCase()] : []
}
