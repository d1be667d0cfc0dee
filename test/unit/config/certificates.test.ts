import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { certificatePairProblems } from '../../../src/config/certificates.js'
import { makePki } from '../../helpers/certs.js'

test('a certificate with its own key has no problem', (t) => {
  const pki = makePki(t)
  assert.deepEqual(certificatePairProblems(pki.serverCert, pki.serverKey), [])
})

test('a key of another certificate is named as the problem', (t) => {
  const pki = makePki(t)
  assert.deepEqual(certificatePairProblems(pki.serverCert, pki.clientKey), [{ file: 'key', message: 'does not match the certificate (cert)' }])
})

test('files that are not PEM are each named', () => {
  assert.deepEqual(certificatePairProblems(Buffer.from('junk'), Buffer.from('junk')), [
    { file: 'cert', message: 'is not a PEM certificate' },
    { file: 'key', message: 'is not a PEM private key' }
  ])
})

test('a key that needs a passphrase is refused as such', (t) => {
  const pki = makePki(t)
  const encrypted = join(pki.dir, 'encrypted.key')
  execFileSync('openssl', ['pkey', '-in', pki.files.serverKey, '-aes256', '-passout', 'pass:secret', '-out', encrypted], { stdio: 'ignore' })
  assert.deepEqual(certificatePairProblems(pki.serverCert, readFileSync(encrypted)), [{ file: 'key', message: 'is an encrypted private key (a key without a passphrase is needed)' }])
})
