/**
 * How the test client reaches a gateway's first listener. `TOLLGATE_TEST_DOWNSTREAM=h2`
 * (set by the test runner for a chosen list of e2e files) makes startGateway's default
 * listener TLS with `http2: true` and the test clients speak h2 to it, so those files show
 * every behaviour they test over HTTP/2 too. One test CA per process, removed at exit.
 */
import { rmSync } from 'node:fs'
import type { Agent } from 'undici'
import type { GatewayConfig } from '../../src/index.js'
import { makePki, type TestPki } from './certs.js'

type ListenEntry = NonNullable<NonNullable<GatewayConfig['server']>['listen']>[number]

export const DOWNSTREAM_H2 = process.env.TOLLGATE_TEST_DOWNSTREAM === 'h2'

let pki: TestPki | null = null

export function downstreamPki (): TestPki {
  if (pki === null) {
    const made = makePki(null, ['localhost', '127.0.0.1'])
    process.once('exit', () => rmSync(made.dir, { recursive: true, force: true }))
    pki = made
  }
  return pki
}

/** The default listener of startGateway in this mode. */
export function defaultListen (): ListenEntry {
  if (!DOWNSTREAM_H2) return { host: '127.0.0.1', port: 0 }
  const { files } = downstreamPki()
  return { host: '127.0.0.1', port: 0, http2: true, tls: { certs: [{ cert: files.serverCert, key: files.serverKey }] } }
}

/** Options for a test client's undici Agent: h2 by ALPN, trusting the test CA, in this mode. */
export function clientAgentOptions (): Agent.Options {
  if (!DOWNSTREAM_H2) return {}
  // The chain is checked, the name is not: tests send any Host (`api.example.com`), which
  // undici also sends as SNI, and the gateway answers them all with its one certificate.
  return { allowH2: true, connect: { ca: downstreamPki().ca, rejectUnauthorized: true, checkServerIdentity: () => undefined } }
}
