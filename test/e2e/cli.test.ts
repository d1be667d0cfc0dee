import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { runCli, startCli, listeningPort } from '../helpers/cli.js'
import { startOrigin } from '../helpers/origin.js'
import { isRunning } from '../../src/cli/pid-file.js'
import { verifyPassword } from '../../src/cli/hash-password.js'
import { tempFolder } from '../helpers/files.js'

function folder (t: TestContext): string {
  return tempFolder(t, 'tollgate-cli-')
}

const config = (upstream: string, tag: string, extra = ''): string => `
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  accessLog: false
  gracefulShutdown: 5s
${extra}
upstreams:
  app: { targets: ["${upstream}"] }
routes:
  - name: app
    upstream: app
    responseHeaders: { set: { x-config: ${tag} } }
`

test('validate prints config OK and exits 0 for a good file', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), config('127.0.0.1:3001', 'one'))
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 0, result.stderr)
  assert.equal(result.stdout, 'config OK\n')
})

test('validate reads the .env beside the config and the one in its working folder; the config\'s and the environment win', (t) => {
  const configDir = folder(t)
  const workDir = folder(t)
  const emptyDir = folder(t)
  writeFileSync(join(configDir, 'g.yaml'), `
server: { listen: [{ host: 127.0.0.1, port: "\${TOLLGATE_T_PORT}" }] }
upstreams: { app: { targets: ["\${TOLLGATE_T_TARGET}"] } }
routes: [{ name: app, upstream: app }]
`)
  writeFileSync(join(configDir, '.env'), 'TOLLGATE_T_TARGET=127.0.0.1:3001\n')
  // The working folder's .env sets the port, and a target that is no target.
  writeFileSync(join(workDir, '.env'), 'TOLLGATE_T_PORT=0\nTOLLGATE_T_TARGET=no target here\n')
  const env = { ...process.env }
  delete env.TOLLGATE_T_PORT
  delete env.TOLLGATE_T_TARGET
  const validate = (cwd: string, extra: NodeJS.ProcessEnv = {}): ReturnType<typeof runCli> =>
    runCli(['validate', '-c', join(configDir, 'g.yaml')], { cwd, env: { ...env, ...extra } })

  const both = validate(workDir)
  assert.equal(both.status, 0, `the port from the working folder's .env and the target from the config's: ${both.stdout}${both.stderr}`)
  assert.equal(both.stdout, 'config OK\n')

  const noWorkEnv = validate(emptyDir)
  assert.equal(noWorkEnv.status, 1, noWorkEnv.stdout + noWorkEnv.stderr)
  assert.match(noWorkEnv.stdout, /environment variable TOLLGATE_T_PORT is not set/)
  assert.doesNotMatch(noWorkEnv.stdout, /TOLLGATE_T_TARGET/)

  const fromEnvironment = validate(workDir, { TOLLGATE_T_TARGET: 'bad host:1' })
  assert.equal(fromEnvironment.status, 1, 'the .env target won over the environment\'s')
  assert.match(fromEnvironment.stdout, /upstreams\.app\.targets\[0\]: .*not a valid host/)
})

test('validate lists every error as path: message and exits 1', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'bad.yaml'), `
upstreams:
  empty: { targets: [] }
routes:
  - { name: a, upstream: missing, match: { path: "~ ^/(x" } }
server:
  trustProxy: [10.0.0.0/40]
`)
  const result = runCli(['validate', '-c', join(dir, 'bad.yaml')])
  assert.equal(result.status, 1)
  const lines = result.stdout.trim().split('\n')
  assert.ok(lines.includes('upstreams.empty.targets: must list at least one target'), result.stdout)
  assert.ok(lines.includes('routes[0].upstream: names a missing upstream "missing"'), result.stdout)
  assert.ok(lines.some(l => l.startsWith('routes[0].match.path: ')), result.stdout)
  assert.ok(lines.some(l => l.startsWith('server.trustProxy[0]: ')), result.stdout)
})

test('validate reports unknown keys and wrong types', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ server: { listen: [{ port: 'x' }] }, upstreams: { a: { targets: ['127.0.0.1:1'], colour: 'red' } } }))
  const result = runCli(['validate', '-c', join(dir, 'bad.json')])
  assert.equal(result.status, 1)
  assert.match(result.stdout, /^server\.listen\[0\]\.port: must be integer$/m)
  assert.match(result.stdout, /^upstreams\.a\.colour: unknown key$/m)
})

test('start writes the pid file, SIGHUP reloads, an invalid file keeps the running config', async (t) => {
  const dir = folder(t)
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const file = join(dir, 'g.yaml')
  const pidFile = join(dir, 'tollgate.pid')
  writeFileSync(file, config(blue.address, 'one'))
  const cli = startCli(t, ['start', '-c', file, '--pid-file', pidFile])
  const port = await listeningPort(cli)
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(cli.child.pid))
  const get = async (): Promise<string> => { const r = await request(`http://127.0.0.1:${port}/`); return await r.body.text() }
  assert.equal(await get(), 'Response from BLUE')

  writeFileSync(file, config(green.address, 'two'))
  const reloadCmd = runCli(['reload', '--pid-file', pidFile])
  assert.equal(reloadCmd.status, 0, reloadCmd.stderr)
  await cli.waitForLog(l => l.msg === 'config reloaded')
  assert.equal(await get(), 'Response from GREEN')

  writeFileSync(file, 'upstreams: { broken: { targets: [] } }\nroutes: []\n')
  cli.child.kill('SIGHUP')
  await cli.waitForLog(l => l.msg === 'config refused; the running config stays')
  assert.equal(await get(), 'Response from GREEN')

  const stopCmd = runCli(['stop', '--pid-file', pidFile])
  assert.equal(stopCmd.status, 0, stopCmd.stderr)
  assert.equal((await cli.exited).code, 0)
  assert.equal(existsSync(pidFile), false, 'the pid file was left behind')
})

test('SIGTERM lets a 2 s request in flight finish with 200, then exits 0', async (t) => {
  const dir = folder(t)
  let arrived!: () => void
  const started = new Promise<void>(resolve => { arrived = resolve })
  const slow = await startOrigin(t, 'slow', { handler: (_req, res) => { arrived(); setTimeout(() => res.end('finished'), 2000) } })
  writeFileSync(join(dir, 'g.yaml'), config(slow.address, 'one'))
  const cli = startCli(t, ['start', '-c', join(dir, 'g.yaml')])
  const port = await listeningPort(cli)
  const pending = request(`http://127.0.0.1:${port}/`)
  await started
  cli.child.kill('SIGTERM')
  const res = await pending
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), 'finished')
  const answeredAt = performance.now()
  const exit = await cli.exited
  assert.equal(exit.code, 0)
  const lingered = performance.now() - answeredAt
  assert.ok(lingered < 1500, `exited ${lingered.toFixed(0)} ms after the last response (gracefulShutdown is 5 s)`)
  await assert.rejects(request(`http://127.0.0.1:${port}/`), 'the listener still accepts after shutdown')
})

test('SIGINT exits at once, even with a request in flight', async (t) => {
  const dir = folder(t)
  let arrived!: () => void
  const started = new Promise<void>(resolve => { arrived = resolve })
  const slow = await startOrigin(t, 'slow', { handler: (_req, res) => { arrived(); setTimeout(() => res.end('late'), 5000).unref() } })
  writeFileSync(join(dir, 'g.yaml'), config(slow.address, 'one'))
  const cli = startCli(t, ['start', '-c', join(dir, 'g.yaml')])
  const port = await listeningPort(cli)
  const pending = request(`http://127.0.0.1:${port}/`).catch((err: unknown) => err)
  await started
  const sent = performance.now()
  cli.child.kill('SIGINT')
  await cli.exited
  assert.ok(performance.now() - sent < 1000, 'SIGINT did not exit at once')
  assert.ok((await pending) instanceof Error, 'the request in flight was answered although the gateway exited')
})

test('--daemon detaches, logs to the log file, and stop ends it', async (t) => {
  const dir = folder(t)
  const blue = await startOrigin(t, 'blue')
  const pidFile = join(dir, 'run', 'tollgate.pid')
  const logFile = join(dir, 'tollgate.log')
  writeFileSync(join(dir, 'g.yaml'), config(blue.address, 'one'))
  const result = runCli(['start', '-c', join(dir, 'g.yaml'), '--daemon', '--pid-file', pidFile, '--log-file', logFile])
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`)
  const pid = Number(readFileSync(pidFile, 'utf8'))
  t.after(() => { if (isRunning(pid)) process.kill(pid, 'SIGKILL') })
  assert.ok(isRunning(pid), `the daemon (pid ${pid}) is not running`)
  const logText = readFileSync(logFile, 'utf8')
  const listening = logText.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { msg: string, address?: string }).find(l => l.msg === 'listening')
  assert.ok(listening?.address !== undefined, `the log file has no listening line:\n${logText}`)
  const res = await request(String(listening.address))
  assert.equal(await res.body.text(), 'Response from BLUE')
  const stop = runCli(['stop', '--pid-file', pidFile])
  assert.equal(stop.status, 0, `${stop.stdout}${stop.stderr}`)
  assert.equal(isRunning(pid), false, 'the daemon is still running')
  assert.equal(existsSync(pidFile), false, 'the pid file was left behind')
})

test('--daemon without a log file is refused', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), config('127.0.0.1:3001', 'one'))
  const result = runCli(['start', '-c', join(dir, 'g.yaml'), '--daemon'])
  assert.equal(result.status, 1)
  assert.match(result.stderr, /log file/)
})

test('hash-password prints an scrypt hash of the password read on stdin', async () => {
  const result = runCli(['hash-password'], { input: 's3cret\n' })
  assert.equal(result.status, 0, result.stderr)
  const hash = result.stdout.trim()
  assert.match(hash, /^scrypt\$/)
  assert.equal(await verifyPassword('s3cret', hash), true)
  assert.equal(await verifyPassword('wrong', hash), false)
})

test('an unknown command prints the usage and exits 2', () => {
  const result = runCli(['frobnicate'])
  assert.equal(result.status, 2)
  assert.match(result.stderr, /usage:/)
})

test('start refuses an invalid config before listening, listing the problems', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'bad.yaml'), 'upstreams: { a: { targets: [] } }\nroutes: [{ name: r, upstream: b }]\n')
  const result = runCli(['start', '-c', join(dir, 'bad.yaml')])
  assert.equal(result.status, 1)
  assert.match(result.stderr, /^upstreams\.a\.targets: must list at least one target$/m)
  assert.match(result.stderr, /^routes\[0\]\.upstream: names a missing upstream "b"$/m)
})

test('start exits 1 when its port is taken', async (t) => {
  const dir = folder(t)
  const taken = await startOrigin(t, 'taken')
  writeFileSync(join(dir, 'g.yaml'), `server: { listen: [{ host: 127.0.0.1, port: ${taken.port} }] }\nupstreams: { a: { targets: ["127.0.0.1:1"] } }\nroutes: [{ name: r, upstream: a }]\n`)
  const result = runCli(['start', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.match(result.stdout, /EADDRINUSE/)
})

test('server.daemon, server.pidFile and server.logFile in the config do what the flags do', async (t) => {
  const dir = folder(t)
  const blue = await startOrigin(t, 'blue')
  const pidFile = join(dir, 'tollgate.pid')
  const logFile = join(dir, 'tollgate.log')
  writeFileSync(join(dir, 'g.yaml'), config(blue.address, 'one', `  daemon: true\n  pidFile: ${pidFile}\n  logFile: ${logFile}\n`))
  const result = runCli(['start', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`)
  const pid = Number(readFileSync(pidFile, 'utf8'))
  t.after(() => { if (isRunning(pid)) process.kill(pid, 'SIGKILL') })
  assert.ok(isRunning(pid), `the daemon (pid ${pid}) is not running`)
  assert.match(readFileSync(logFile, 'utf8'), /"msg":"listening"/)
  assert.equal(runCli(['stop', '--pid-file', pidFile]).status, 0)
  assert.equal(isRunning(pid), false)
})

test('the shipped example configs validate', () => {
  for (const file of ['gateway.example.yaml', 'examples/gateway.config.ts']) {
    const result = runCli(['validate', '-c', file], { cwd: fileURLToPath(new URL('../..', import.meta.url)) })
    assert.equal(result.status, 0, `${file}: ${result.stdout}${result.stderr}`)
    assert.equal(result.stdout, 'config OK\n')
  }
})

test('validate explains a malformed value with the message the schema gives it', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), 'upstreams:\n  a: { targets: ["127.0.0.1:1"], balancer: fastest, timeouts: { response: soon } }\n')
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.deepEqual(result.stdout.trimEnd().split('\n').sort(), [
    'upstreams.a.balancer: must be one of round-robin, random, least-connections, consistent-hash, sticky-cookie',
    'upstreams.a.timeouts.response: must be a duration such as "500ms", "2s", "1m" or a number of milliseconds'
  ])
})
