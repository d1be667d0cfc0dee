// File discovery without a gateway: the two file formats, an edit that moves the set, a
// bad or half-written file that keeps the last good set with one log line, and a stop
// that leaves no timer or watcher behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { mkdirSync, writeFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { parseTargetFile } from '../../../src/discovery/file.js'
import { compileGateway } from '../../../src/config/compile.js'
import { Upstream } from '../../../src/upstream/upstream.js'
import type { HealthLog } from '../../../src/health/upstream-health.js'
import { tempFolder } from '../../helpers/files.js'
import { within } from '../../helpers/deadline.js'
import { waitUntil } from '../../helpers/health.js'

interface Logged { level: string, fields: Record<string, unknown>, message: string }

function recordingLog (): { log: HealthLog, lines: Logged[] } {
  const lines: Logged[] = []
  const at = (level: string) => (fields: object, message: string): void => { lines.push({ level, fields: fields as Record<string, unknown>, message }) }
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } }
}

const ids = (upstream: Upstream): string[] => upstream.targets.map(target => `${target.id}*${target.weight}`)

function fileUpstream (t: TestContext, path: string, interval: number | string, targets: string[] = []): { upstream: Upstream, lines: Logged[] } {
  const compiled = compileGateway({ upstreams: { u: { targets, discovery: { type: 'file', path, interval } } } }, { baseDir: process.cwd() }).upstreams.get('u')
  assert.ok(compiled !== undefined)
  const { log, lines } = recordingLog()
  const upstream = new Upstream(compiled, { onConnection: () => undefined }, log)
  t.after(async () => await upstream.close())
  upstream.start()
  return { upstream, lines }
}

test('a line file: address[ weight] a line, comments and blank lines skipped, the default port filled in', () => {
  const specs = parseTargetFile('# blue pool\n10.0.0.1:8080 3\n\n  10.0.0.2   # no port\n[::1]:9000\n', 80)
  assert.deepEqual(specs.map(s => `${s.address.id}*${s.weight}`), ['10.0.0.1:8080*3', '10.0.0.2:80*1', '[::1]:9000*1'])
})

test('a line file may begin with an IPv6 address; a flow list is YAML', () => {
  assert.deepEqual(parseTargetFile('[::1]:9000 2\n127.0.0.1:1\n', 80).map(s => `${s.address.id}*${s.weight}`), ['[::1]:9000*2', '127.0.0.1:1*1'])
  assert.deepEqual(parseTargetFile('[10.0.0.1:1, "[::1]:2"]\n', 80).map(s => s.address.id), ['10.0.0.1:1', '[::1]:2'])
})

test('a YAML list in the targets shape', () => {
  const specs = parseTargetFile('# from the deploy job\n- 10.0.0.1:8080\n- { address: 10.0.0.2:8080, weight: 2 }\n- socketPath: /tmp/app.sock\n', 80)
  assert.deepEqual(specs.map(s => `${s.address.id}*${s.weight}`), ['10.0.0.1:8080*1', '10.0.0.2:8080*2', 'unix:/tmp/app.sock*1'])
})

test('a bad line or entry is refused, naming it', () => {
  assert.throws(() => parseTargetFile('10.0.0.1:8080\n10.0.0.2:80 x\n', 80), /^Error: line 2: weight "x" must be a whole number from 1 to 1000$/)
  assert.throws(() => parseTargetFile('10.0.0.1:8080 1 2\n', 80), /^Error: line 1: "10.0.0.1:8080 1 2" is not "address\[ weight\]"$/)
  assert.throws(() => parseTargetFile('10.0.0.1:99999\n', 80), /^Error: line 1: .*port must be 1-65535/)
  assert.throws(() => parseTargetFile('- { address: 10.0.0.1:1, colour: red }\n', 80), /^Error: entry 1: must be/)
  assert.throws(() => parseTargetFile('10.0.0.1:1\n10.0.0.1:1\n', 80), /^Error: line 2: 10.0.0.1:1 is listed twice$/)
})

test('an edit moves the set at once (watched), keeping the targets that stay', async (t) => {
  const dir = tempFolder(t, 'tollgate-file-')
  const file = join(dir, 'targets.txt')
  writeFileSync(file, '127.0.0.1:1\n127.0.0.1:2\n')
  const { upstream } = fileUpstream(t, file, '1h')
  await within(upstream.ready(), 2000, 'the first read never ended')
  assert.deepEqual(ids(upstream), ['127.0.0.1:1*1', '127.0.0.1:2*1'])
  const stays = upstream.targets[1]
  // Written beside, then renamed over: what editors and deploy tools do.
  writeFileSync(join(dir, 'next.tmp'), '127.0.0.1:2 4\n127.0.0.1:3\n')
  renameSync(join(dir, 'next.tmp'), file)
  await waitUntil(() => ids(upstream).join() === '127.0.0.1:2*4,127.0.0.1:3*1', 2000, () => `the edit was not picked up: ${ids(upstream).join()}`)
  assert.equal(upstream.targets[0], stays)
})

test('a file that does not exist yet is logged once, then read when it appears (polled)', async (t) => {
  const dir = tempFolder(t, 'tollgate-file-')
  const file = join(dir, 'later', 'targets.txt')
  const { upstream, lines } = fileUpstream(t, file, 100, ['127.0.0.1:9'])
  await within(upstream.ready(), 2000, 'the first read never ended')
  assert.ok(lines.some(l => l.level === 'warn' && l.message === `${file} does not exist yet: its targets are read once it does`))
  assert.deepEqual(ids(upstream), ['127.0.0.1:9*1'])
  mkdirSync(join(dir, 'later'))
  writeFileSync(file, '127.0.0.1:4\n')
  await waitUntil(() => ids(upstream).join() === '127.0.0.1:9*1,127.0.0.1:4*1', 2000, () => `the new file was not read: ${ids(upstream).join()}`)
})

test('an invalid or empty file keeps the last good set, with one log line per streak', async (t) => {
  const dir = tempFolder(t, 'tollgate-file-')
  const file = join(dir, 'targets.txt')
  writeFileSync(file, '127.0.0.1:1\n')
  const { upstream, lines } = fileUpstream(t, file, 100)
  await within(upstream.ready(), 2000, 'the first read never ended')
  const asked = upstream.discovery?.asked ?? 0
  writeFileSync(file, '127.0.0.1:2\n127.0.0.1:')
  await waitUntil(() => (upstream.discovery?.asked ?? 0) >= asked + 3, 3000, 'the file is not polled')
  writeFileSync(file, '')
  const emptyAt = upstream.discovery?.asked ?? 0
  await waitUntil(() => (upstream.discovery?.asked ?? 0) >= emptyAt + 3, 3000, 'the file is not polled')
  assert.deepEqual(ids(upstream), ['127.0.0.1:1*1'])
  const failures = lines.filter(l => l.message === 'discovery failed')
  assert.equal(failures.length, 1, JSON.stringify(lines))
  assert.match(String(failures[0]?.fields.reason), /^line 2: .*: the last good set is kept$/)
  writeFileSync(file, '127.0.0.1:5\n')
  await waitUntil(() => ids(upstream).join() === '127.0.0.1:5*1', 2000, 'the good file was not read')
  assert.ok(lines.some(l => l.message === 'discovery answers again'))
})

test('stopping leaves no timer or watcher', async (t) => {
  const dir = tempFolder(t, 'tollgate-file-')
  const file = join(dir, 'targets.txt')
  writeFileSync(file, '127.0.0.1:1\n')
  const { upstream } = fileUpstream(t, file, 100)
  await within(upstream.ready(), 2000, 'the first read never ended')
  assert.equal(upstream.discovery?.active, true)
  await upstream.close()
  assert.equal(upstream.discovery?.active, false)
  const asked = upstream.discovery?.asked
  writeFileSync(file, '127.0.0.1:2\n')
  // Nothing announces that nothing happens: give a watcher or a 100 ms poll three chances.
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal(upstream.discovery?.asked, asked)
})
