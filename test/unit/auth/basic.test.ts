import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BasicAuthenticator, REMEMBER_MS, scryptHashProblem } from '../../../src/auth/basic.js'
import { hashPassword, verifyPassword } from '../../../src/cli/hash-password.js'
import { allowed, refused, requestWith } from './helpers.js'

const basicHeader = (pair: string): string => `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`

let aliceHash: string | undefined
async function alice (): Promise<string> {
  aliceHash ??= await hashPassword('wonder land:1')
  return aliceHash
}

test('basic: the right password for a user is allowed, with the user name as principal', async () => {
  const authenticator = new BasicAuthenticator({ realm: 'staff', users: { alice: await alice() } })
  const ctx = await allowed(authenticator, requestWith(basicHeader('alice:wonder land:1')))
  assert.deepEqual(ctx.principal, { id: 'alice' })
})

test('basic: no credentials is 401 with a Basic challenge naming the realm', async () => {
  const error = await refused(new BasicAuthenticator({ realm: 'staff', users: { alice: await alice() } }), requestWith())
  assert.equal(error.code, 'UNAUTHORIZED')
  assert.deepEqual(error.headers, { 'www-authenticate': 'Basic realm="staff", charset="UTF-8"' })
})

test('basic: a wrong password is 401', async () => {
  const error = await refused(new BasicAuthenticator({ realm: 'staff', users: { alice: await alice() } }), requestWith(basicHeader('alice:wonderland')))
  assert.equal(error.statusCode, 401)
  assert.equal(error.headers?.['www-authenticate'], 'Basic realm="staff", charset="UTF-8"')
})

test('basic: an unknown user is 401, and is checked against a hash all the same', async () => {
  const checked: string[] = []
  const aliceHash = await alice()
  const authenticator = new BasicAuthenticator({
    realm: 'r',
    users: { alice: aliceHash },
    verify: async (password, hash) => { checked.push(password, hash); return true }
  })
  const error = await refused(authenticator, requestWith(basicHeader('mallory:anything')))
  assert.equal(error.statusCode, 401)
  assert.equal(checked.length, 2)
  assert.equal(checked[0], 'anything')
  assert.match(checked[1] ?? '', /^scrypt\$16384\$8\$1\$/)
  assert.notEqual(checked[1], aliceHash)
})

test('basic: malformed credentials are 401 (not base64, no colon, scheme alone)', async () => {
  const authenticator = new BasicAuthenticator({ realm: 'r', users: { alice: await alice() } })
  for (const header of ['Basic !!!not-base64!!!', `Basic ${Buffer.from('no colon here').toString('base64')}`, 'Basic', `Basic ${'QUFB'.repeat(5000)}`]) {
    const error = await refused(authenticator, requestWith(header))
    assert.equal(error.statusCode, 401, header.slice(0, 40))
    assert.equal(error.code, 'UNAUTHORIZED')
  }
})

test('basic: a verified pair is remembered for a while, so scrypt runs once', async () => {
  let now = 1_000_000
  let checks = 0
  const authenticator = new BasicAuthenticator({
    realm: 'r',
    users: { alice: await alice() },
    verify: async (password, hash) => { checks++; return await verifyPassword(password, hash) },
    now: () => now
  })
  const request = requestWith(basicHeader('alice:wonder land:1'))
  await allowed(authenticator, request)
  const second = await allowed(authenticator, request)
  assert.deepEqual(second.principal, { id: 'alice' })
  assert.equal(checks, 1)
  now += REMEMBER_MS + 1
  await allowed(authenticator, request)
  assert.equal(checks, 2)
})

test('basic: a wrong password is never remembered: each try pays its check', async () => {
  let checks = 0
  const authenticator = new BasicAuthenticator({
    realm: 'r',
    users: { alice: await alice() },
    verify: async () => { checks++; return false }
  })
  await refused(authenticator, requestWith(basicHeader('alice:nope')))
  await refused(authenticator, requestWith(basicHeader('alice:nope')))
  assert.equal(checks, 2)
})

test('basic: a remembered pair does not let another user with the same password in', async () => {
  const authenticator = new BasicAuthenticator({ realm: 'r', users: { alice: await alice() } })
  await allowed(authenticator, requestWith(basicHeader('alice:wonder land:1')))
  assert.equal((await refused(authenticator, requestWith(basicHeader('bob:wonder land:1')))).statusCode, 401)
})

test('basic: hashes from hash-password pass the check; others are named for what is wrong', async () => {
  assert.equal(scryptHashProblem(await alice()), null)
  assert.match(scryptHashProblem('plain-text-password') ?? '', /is not a scrypt hash from `tollgate hash-password`/)
  assert.match(scryptHashProblem('scrypt$1000$8$1$c2FsdA==$aGFzaA==') ?? '', /not a power of two/)
  assert.match(scryptHashProblem('scrypt$1048576$8$1$c2FsdA==$aGFzaA==') ?? '', /more than 64 MiB/)
  assert.match(scryptHashProblem('scrypt$16384$8$1$c2FsdA==$aGFzaA==') ?? '', /not 32 bytes/)
})
