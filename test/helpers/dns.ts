/**
 * A real DNS server for a test: dnsmasq on a free loopback port, answering only from a
 * hosts file of the test's own (plus any records given as options), never forwarding.
 * `setHosts` rewrites the file and has dnsmasq read it again (SIGHUP), resolving once it
 * has. Stopped by its PID after the test.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, writeFileSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { delimiter, join } from 'node:path'
import type { TestContext } from 'node:test'
import { ChildLines, endChild } from './child.js'
import { tempFolder } from './files.js'
import { within } from './deadline.js'

/**
 * dnsmasq lives in /usr/sbin, which a non-root PATH often lacks: look there too.
 * TOLLGATE_TEST_DNSMASQ names another binary.
 */
export function findDnsmasq (): string | null {
  const candidates = [
    process.env.TOLLGATE_TEST_DNSMASQ,
    ...(process.env.PATH ?? '').split(delimiter).filter(dir => dir !== '').map(dir => join(dir, 'dnsmasq')),
    '/usr/sbin/dnsmasq',
    '/sbin/dnsmasq'
  ]
  for (const candidate of candidates) {
    if (candidate === undefined) continue
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return null
}

export interface TestDns {
  /** `127.0.0.1:PORT`, for `servers`. */
  readonly server: string
  readonly port: number
  /** Replaces the hosts file (`ip name` lines) and resolves once dnsmasq has read it. */
  setHosts (text: string): Promise<void>
}

export interface DnsOptions {
  /** The hosts file's first content. */
  readonly hosts: string
  /** TTL of every answer, in seconds (default 3600: only the interval asks again). */
  readonly ttl?: number
  /** More dnsmasq options, such as `--srv-host=…`. */
  readonly args?: readonly string[]
}

/**
 * A port free for both UDP and TCP on 127.0.0.1 now (dnsmasq binds both). It binds it next;
 * a port taken in between is a lost race, retried below.
 */
async function freeDnsPort (): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const tcp = createServer()
    tcp.listen(0, '127.0.0.1')
    await once(tcp, 'listening')
    const port = (tcp.address() as AddressInfo).port
    const udp = createSocket('udp4')
    const bound = await new Promise<boolean>(resolve => {
      udp.once('error', () => resolve(false))
      udp.bind(port, '127.0.0.1', () => resolve(true))
    })
    if (bound) await new Promise<void>(resolve => udp.close(() => resolve()))
    await new Promise<void>(resolve => tcp.close(() => resolve()))
    if (bound) return port
  }
  throw new Error('no port free for both UDP and TCP on 127.0.0.1')
}

export async function startDnsmasq (t: TestContext, options: DnsOptions): Promise<TestDns> {
  const binary = findDnsmasq()
  if (binary === null) throw new Error('dnsmasq is not installed (Debian: dnsmasq-base)')
  const dir = tempFolder(t, 'tollgate-dns-')
  const hosts = join(dir, 'hosts')
  writeFileSync(hosts, options.hosts)
  let lastError = ''
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeDnsPort()
    // dnsmasq logs to stderr ("-"); the shell hands that to stdout, where ChildLines reads
    // lines, and then becomes dnsmasq itself (exec), so the PID is dnsmasq's.
    const child = spawn('/bin/sh', ['-c', 'exec "$@" 2>&1', 'sh', binary,
      '--keep-in-foreground', '--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', '--conf-file=/dev/null', `--addn-hosts=${hosts}`, `--local-ttl=${options.ttl ?? 3600}`,
      // Names of the test's domain that the file lacks get NXDOMAIN, not REFUSED.
      '--local=/test/', '--log-facility=-', `--pid-file=${join(dir, 'pid')}`,
      // Running as root, dnsmasq would switch to "nobody", who cannot read the test's folder.
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ...(options.args ?? [])
    ], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
    const out = new ChildLines(child, 'dnsmasq')
    try {
      await out.waitFor(line => line.includes(`read ${hosts}`), 'that it read its hosts file', 10_000)
    } catch (err) {
      lastError = `${(err as Error).message}\n${out.stderr}`
      await endChild(out, () => child.kill('SIGTERM'), 3000)
      if (/in use/i.test(out.lines.join('\n') + out.stderr)) continue
      throw new Error(lastError)
    }
    t.after(async () => { await endChild(out, () => child.kill('SIGTERM'), 3000) })
    let reads = out.lines.filter(line => line.includes(`read ${hosts}`)).length
    return {
      port,
      server: `127.0.0.1:${port}`,
      async setHosts (text: string) {
        writeFileSync(hosts, text)
        const seen = reads
        const read = new Promise<void>(resolve => {
          out.onLine(() => { if (out.lines.filter(line => line.includes(`read ${hosts}`)).length > seen) resolve() })
        })
        child.kill('SIGHUP')
        await within(read, 5000, 'dnsmasq did not read its hosts file again')
        reads = out.lines.filter(line => line.includes(`read ${hosts}`)).length
      }
    }
  }
  throw new Error(`dnsmasq could not bind a free port: ${lastError}`)
}
