import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { makePki, type TestPki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'
import { runCli, startCli, listeningPort, type RunningCli } from '../helpers/cli.js'
import { tempFolder } from '../helpers/files.js'
import { eventually, within } from '../helpers/deadline.js'

test('an HTTPS listener terminates TLS with the certificate chosen by SNI; the upstream stays plain HTTP', async (t) => {
  const first = makePki(t, ['a.test'])
  const second = makePki(t, ['*.b.test'])
  const blue = await startOrigin(t, 'blue')
  const gw = await startGateway(t, {
    server: {
      listen: [{
        host: '127.0.0.1',
        port: 0,
        tls: { certs: [{ cert: first.files.serverCert, key: first.files.serverKey }, { cert: second.files.serverCert, key: second.files.serverKey }] }
      }]
    },
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'blue', upstream: 'blue' }]
  })
  const get = async (servername: string, ca: Buffer): Promise<{ status: number, body: string, proto: unknown }> => {
    const agent = new Agent({ connect: { ca, servername, rejectUnauthorized: true } })
    t.after(() => agent.close())
    const res = await request(`https://127.0.0.1:${gw.port}/`, { dispatcher: agent })
    return { status: res.statusCode, body: await res.body.text(), proto: blue.received.at(-1)?.headers['x-forwarded-proto'] }
  }
  assert.deepEqual(await get('a.test', first.ca), { status: 200, body: 'Response from BLUE', proto: 'https' })
  assert.deepEqual(await get('shop.b.test', second.ca), { status: 200, body: 'Response from BLUE', proto: 'https' })
  await assert.rejects(get('shop.b.test', first.ca), 'the wrong certificate was served for *.b.test')
})

async function handshake (port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return await within(new Promise<TLSSocket>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...options }, () => resolve(socket))
    socket.once('error', reject)
  }), 5000, 'the TLS handshake neither finished nor failed')
}

async function tlsGateway (t: TestContext, pki: TestPki): Promise<number> {
  const blue = await startOrigin(t, 'blue')
  const gw = await startGateway(t, {
    server: { listen: [{ host: '127.0.0.1', port: 0, tls: { certs: [{ cert: pki.files.serverCert, key: pki.files.serverKey }] } }] },
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'blue', upstream: 'blue' }]
  })
  return gw.port
}

for (const version of ['TLSv1', 'TLSv1.1'] as const) {
  test(`a ${version} client is refused with a protocol_version alert`, async (t) => {
    const port = await tlsGateway(t, makePki(t))
    // SECLEVEL=0 lets this client offer the old versions at all: the refusal is the gateway's.
    const err = await handshake(port, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false }).then(
      socket => { socket.destroy(); return null },
      (e: NodeJS.ErrnoException) => e)
    assert.equal(err?.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION')
  })
}

test('a TLS 1.2 client is served', async (t) => {
  const pki = makePki(t)
  const port = await tlsGateway(t, pki)
  const socket = await handshake(port, { maxVersion: 'TLSv1.2', ca: pki.ca, servername: 'localhost' })
  t.after(() => socket.destroy())
  assert.equal(socket.getProtocol(), 'TLSv1.2')
  assert.match(await exchange(socket), /^HTTP\/1\.1 200 [^]*Response from BLUE$/)
})

/** One keep-alive HTTP/1.1 request on an open socket; resolves with the whole response. */
async function exchange (socket: TLSSocket): Promise<string> {
  let text = ''
  const onData = (chunk: Buffer): void => { text += chunk.toString('latin1') }
  socket.on('data', onData)
  socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
  try {
    await eventually(() => text.endsWith('Response from BLUE'), 5000, () => `no whole response on the open connection: ${JSON.stringify(text)}`)
  } finally {
    socket.off('data', onData)
  }
  return text
}

async function fingerprint (port: number, ca: Buffer[], servername?: string): Promise<string> {
  const socket = await handshake(port, { ca, ...(servername === undefined ? {} : { servername }) })
  const print = socket.getPeerX509Certificate()?.fingerprint256 ?? ''
  socket.destroy()
  return print
}

/**
 * `tollgate start` serving the first PKI's certificate from files in a folder; returns
 * what a test needs to swap them for the second PKI's and SIGHUP.
 */
async function startWithCertFiles (t: TestContext): Promise<{ port: number, cli: RunningCli, one: TestPki, two: TestPki, swap: () => void }> {
  const dir = tempFolder(t)
  const one = makePki(t)
  const two = makePki(t)
  const blue = await startOrigin(t, 'blue')
  copyFileSync(one.files.serverCert, join(dir, 'server.crt'))
  copyFileSync(one.files.serverKey, join(dir, 'server.key'))
  const file = join(dir, 'g.yaml')
  writeFileSync(file, [
    'server:',
    '  listen: [{ host: 127.0.0.1, port: 0, tls: { certs: [{ cert: server.crt, key: server.key }] } }]',
    '  logLevel: info',
    '  accessLog: false',
    `upstreams: { blue: { targets: ["${blue.address}"] } }`,
    'routes: [{ name: blue, upstream: blue }]',
    ''
  ].join('\n'))
  const cli = startCli(t, ['start', '-c', file])
  const port = await listeningPort(cli)
  const swap = (): void => {
    copyFileSync(two.files.serverCert, join(dir, 'server.crt'))
    copyFileSync(two.files.serverKey, join(dir, 'server.key'))
  }
  return { port, cli, one, two, swap }
}

test('SIGHUP reads the certificate files again: new connections get the new certificate, with SNI and without', async (t) => {
  const { port, cli, one, two, swap } = await startWithCertFiles(t)
  const cas = [one.ca, two.ca]
  const firstPrint = new X509Certificate(one.serverCert).fingerprint256
  assert.equal(await fingerprint(port, cas, 'localhost'), firstPrint)
  swap()
  cli.child.kill('SIGHUP')
  await cli.waitForLog(l => l.msg === 'config reloaded')
  const secondPrint = new X509Certificate(two.serverCert).fingerprint256
  assert.equal(await fingerprint(port, cas, 'localhost'), secondPrint, 'a client sending SNI got the old certificate')
  assert.equal(await fingerprint(port, cas), secondPrint, 'a client sending no SNI got the old certificate')
})

test('a connection opened before a certificate reload stays open and keeps being served', async (t) => {
  const { port, cli, one, two, swap } = await startWithCertFiles(t)
  const socket = await handshake(port, { ca: [one.ca, two.ca], servername: 'localhost' })
  t.after(() => socket.destroy())
  assert.match(await exchange(socket), /^HTTP\/1\.1 200 /)
  swap()
  cli.child.kill('SIGHUP')
  await cli.waitForLog(l => l.msg === 'config reloaded')
  assert.match(await exchange(socket), /^HTTP\/1\.1 200 /)
  assert.equal(socket.getPeerX509Certificate()?.fingerprint256, new X509Certificate(one.serverCert).fingerprint256)
})

function validateListen (t: TestContext, listen: string): { status: number | null, stdout: string } {
  const dir = tempFolder(t)
  const file = join(dir, 'g.yaml')
  writeFileSync(file, `server:\n  listen: [${listen}]\nupstreams: { a: { targets: ["127.0.0.1:1"] } }\nroutes: [{ name: a, upstream: a }]\n`)
  return runCli(['validate', '-c', file])
}

test('validate refuses a certificate file that is not PEM, with its path', async (t) => {
  const pki = makePki(t)
  const garbage = join(pki.dir, 'garbage.crt')
  writeFileSync(garbage, 'not a certificate\n')
  const result = validateListen(t, `{ port: 8443, tls: { certs: [{ cert: "${garbage}", key: "${pki.files.serverKey}" }] } }`)
  assert.equal(result.status, 1)
  assert.match(result.stdout, /^server\.listen\[0\]\.tls\.certs\[0\]\.cert: is not a PEM certificate$/m)
})

test('validate refuses a key file that is not PEM, with its path', async (t) => {
  const pki = makePki(t)
  const result = validateListen(t, `{ port: 8443, tls: { certs: [{ cert: "${pki.files.serverCert}", key: "${pki.files.serverCert}" }] } }`)
  assert.equal(result.status, 1)
  assert.match(result.stdout, /^server\.listen\[0\]\.tls\.certs\[0\]\.key: is not a PEM private key$/m)
})

test('validate refuses a key that belongs to another certificate, with its path', async (t) => {
  const pki = makePki(t)
  const result = validateListen(t, `{ port: 8443, tls: { certs: [{ cert: "${pki.files.serverCert}", key: "${pki.files.clientKey}" }] } }`)
  assert.equal(result.status, 1)
  assert.match(result.stdout, /^server\.listen\[0\]\.tls\.certs\[0\]\.key: does not match the certificate \(cert\)$/m)
})

test('validate refuses http2 on a listener without tls (no cleartext h2c)', async (t) => {
  const result = validateListen(t, '{ port: 8080, http2: true }')
  assert.equal(result.status, 1)
  assert.match(result.stdout, /^server\.listen\[0\]\.http2: needs tls /m)
})

test('validate accepts an http2 TLS listener', async (t) => {
  const pki = makePki(t)
  const result = validateListen(t, `{ port: 8443, http2: true, tls: { certs: [{ cert: "${pki.files.serverCert}", key: "${pki.files.serverKey}" }] } }`)
  assert.equal(result.status, 0, result.stdout)
})
