/**
 * Real certificates made at test time with openssl: one test CA signing a server
 * certificate (SANs given by the test, e.g. `*.api.test`, `localhost`, 127.0.0.1), a
 * second unrelated CA (to prove verification refuses strangers) and a client certificate
 * for mTLS. Written to a temporary folder removed after the test.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

export interface TestPki {
  readonly dir: string
  /** Paths, for configs. */
  readonly files: { ca: string, serverCert: string, serverKey: string, clientCert: string, clientKey: string, otherCa: string }
  readonly ca: Buffer
  readonly serverCert: Buffer
  readonly serverKey: Buffer
  readonly clientCert: Buffer
  readonly clientKey: Buffer
  readonly otherCa: Buffer
}

/**
 * P-256 keys: made in a millisecond where an RSA-2048 key takes a few hundred, and every
 * TLS test makes its own PKI.
 */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']

function openssl (dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa (dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...NEW_KEY, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
}

function makeLeaf (dir: string, name: string, ca: string, subject: string, ext: string): void {
  openssl(dir, ['req', ...NEW_KEY, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject])
  writeFileSync(join(dir, `${name}.ext`), ext)
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`])
}

/** `names`: DNS names and IPs the server certificate covers. */
export function makePki (t: TestContext | null, names: readonly string[] = ['localhost', '127.0.0.1']): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pki-'))
  t?.after(() => rmSync(dir, { recursive: true, force: true }))
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  const san = names.map(n => (/^[\d.]+$/.test(n) || n.includes(':') ? `IP:${n}` : `DNS:${n}`)).join(',')
  makeLeaf(dir, 'server', 'ca', `/CN=${names[0] ?? 'localhost'}`, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`)
  makeLeaf(dir, 'client', 'ca', '/CN=tollgate-client', 'extendedKeyUsage=clientAuth\n')
  const file = (name: string): string => join(dir, name)
  const files = {
    ca: file('ca.crt'), serverCert: file('server.crt'), serverKey: file('server.key'),
    clientCert: file('client.crt'), clientKey: file('client.key'), otherCa: file('other-ca.crt')
  }
  return {
    dir,
    files,
    ca: readFileSync(files.ca),
    serverCert: readFileSync(files.serverCert),
    serverKey: readFileSync(files.serverKey),
    clientCert: readFileSync(files.clientCert),
    clientKey: readFileSync(files.clientKey),
    otherCa: readFileSync(files.otherCa)
  }
}
