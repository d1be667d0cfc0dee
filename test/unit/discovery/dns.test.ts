// DNS discovery against a real dnsmasq: A, AAAA and SRV answers as targets, the TTL
// bringing the next question forward, and answers that keep the last good set.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DnsSource } from '../../../src/discovery/dns.js'
import type { Upstream } from '../../../src/upstream/upstream.js'
import { startDnsmasq } from '../../helpers/dns.js'
import { within } from '../../helpers/deadline.js'
import { discoveredUpstream } from '../../helpers/discovery.js'
import { waitUntil } from '../../helpers/health.js'

const dnsUpstream = discoveredUpstream

const ids = (upstream: Upstream): string => upstream.targets.map(target => `${target.id}*${target.weight}${target.backup ? ' backup' : ''}`).join(', ')

test('A and AAAA records give one target per address at the configured port, with their TTL', async (t) => {
  const dns = await startDnsmasq(t, { hosts: '127.0.0.2 blue.test\n127.0.0.3 blue.test\n::1 blue.test\n', ttl: 30 })
  const signal = new AbortController().signal
  const a = await new DnsSource({ host: 'blue.test', record: 'A', port: 8080, servers: [dns.server] }).discover(signal)
  assert.deepEqual(a.targets.map(s => s.address.id).sort(), ['127.0.0.2:8080', '127.0.0.3:8080'])
  assert.equal(a.ttlMs, 30_000)
  const aaaa = await new DnsSource({ host: 'blue.test', record: 'AAAA', port: 8080, servers: [dns.server] }).discover(signal)
  assert.deepEqual(aaaa.targets.map(s => s.address.id), ['[::1]:8080'])
})

test('SRV records give each host with its port and weight; a higher priority is a backup', async (t) => {
  const dns = await startDnsmasq(t, {
    hosts: '127.0.0.2 blue.test\n127.0.0.4 green.test\n',
    args: ['--srv-host=_http._tcp.app.test,blue.test,8081,0,5', '--srv-host=_http._tcp.app.test,green.test,8082,10,0']
  })
  const found = await new DnsSource({ host: '_http._tcp.app.test', record: 'SRV', port: null, servers: [dns.server] }).discover(new AbortController().signal)
  assert.deepEqual(found.targets.map(s => `${s.address.id}*${s.weight}${s.backup ? ' backup' : ''}`).sort(), ['127.0.0.2:8081*5', '127.0.0.4:8082*1 backup'])
})

test('a changed answer moves the set within one interval', async (t) => {
  const dns = await startDnsmasq(t, { hosts: '127.0.0.2 blue.test\n' })
  const { upstream } = dnsUpstream(t, { type: 'dns', host: 'blue.test', port: 8080, servers: [dns.server], interval: 200 })
  await within(upstream.ready(), 5000, 'the first answer never came')
  assert.equal(ids(upstream), '127.0.0.2:8080*1')
  await dns.setHosts('127.0.0.2 blue.test\n127.0.0.3 blue.test\n')
  await waitUntil(() => ids(upstream) === '127.0.0.2:8080*1, 127.0.0.3:8080*1', 1000, () => `the new answer was not taken: ${ids(upstream)}`)
})

test('a TTL shorter than the interval brings the next question forward', async (t) => {
  const dns = await startDnsmasq(t, { hosts: '127.0.0.2 blue.test\n', ttl: 1 })
  const { upstream } = dnsUpstream(t, { type: 'dns', host: 'blue.test', port: 8080, servers: [dns.server], interval: '1h' })
  await within(upstream.ready(), 5000, 'the first answer never came')
  await dns.setHosts('127.0.0.3 blue.test\n')
  await waitUntil(() => ids(upstream) === '127.0.0.3:8080*1', 2500, () => `the TTL was not honoured: ${ids(upstream)}`)
})

test('NXDOMAIN and an answer with no records keep the last good set, logged once per streak', async (t) => {
  const dns = await startDnsmasq(t, { hosts: '127.0.0.2 blue.test\n' })
  const { upstream, lines } = dnsUpstream(t, { type: 'dns', host: 'blue.test', port: 8080, servers: [dns.server], interval: 100 })
  await within(upstream.ready(), 5000, 'the first answer never came')
  await dns.setHosts('127.0.0.9 other.test\n')
  const asked = upstream.discovery?.asked ?? 0
  await waitUntil(() => (upstream.discovery?.asked ?? 0) >= asked + 3, 3000, 'the name is not asked again')
  // The name now has an AAAA record only: an A question gets an empty answer (NODATA).
  await dns.setHosts('::1 blue.test\n')
  const nodata = upstream.discovery?.asked ?? 0
  await waitUntil(() => (upstream.discovery?.asked ?? 0) >= nodata + 3, 3000, 'the name is not asked again')
  assert.equal(ids(upstream), '127.0.0.2:8080*1')
  const failures = lines.filter(l => l.message === 'discovery failed')
  assert.equal(failures.length, 1, JSON.stringify(lines))
  assert.equal(failures[0]?.fields.reason, 'A blue.test: no such name (NXDOMAIN): the last good set is kept')
  await dns.setHosts('127.0.0.5 blue.test\n')
  await waitUntil(() => ids(upstream) === '127.0.0.5:8080*1', 2000, () => `the name's return was not taken: ${ids(upstream)}`)
  assert.ok(lines.some(l => l.message === 'discovery answers again'))
})
