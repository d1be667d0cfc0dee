/**
 * A listener's certificate and key files checked at load: a file that is not PEM, a key
 * that needs a passphrase, or a key that belongs to another certificate is a config error
 * with its path, found by `validate` and by a reload, never by the first TLS handshake.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { createSecureContext } from 'node:tls'

export interface CertificateProblem {
  readonly file: 'cert' | 'key'
  readonly message: string
}

export function certificatePairProblems (cert: Buffer, key: Buffer): CertificateProblem[] {
  let x509: X509Certificate | null = null
  let privateKey: KeyObject | null = null
  const problems: CertificateProblem[] = []
  try {
    x509 = new X509Certificate(cert)
  } catch {
    problems.push({ file: 'cert', message: 'is not a PEM certificate' })
  }
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    // OpenSSL asks for the passphrase, and Node, having none to give, reports the prompt
    // as cancelled (or as a missing passphrase, depending on the key's format).
    const code = (err as NodeJS.ErrnoException).code
    const encrypted = code === 'ERR_MISSING_PASSPHRASE' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED' || key.includes('ENCRYPTED')
    problems.push({ file: 'key', message: encrypted ? 'is an encrypted private key (a key without a passphrase is needed)' : 'is not a PEM private key' })
  }
  if (x509 === null || privateKey === null) return problems
  if (!x509.checkPrivateKey(privateKey)) return [{ file: 'key', message: 'does not match the certificate (cert)' }]
  try {
    // What the listener will do with them: OpenSSL may still refuse (a key too weak for
    // its security level), and that must not wait for the first handshake.
    createSecureContext({ cert, key })
  } catch (err) {
    return [{ file: 'cert', message: `is refused by OpenSSL: ${(err as Error).message}` }]
  }
  return []
}
