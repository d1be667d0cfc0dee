// Runs every test file under test/ with Node's test runner. Node 20's --test does not
// expand globs, and with no file argument it finds no .ts files and exits 0: so the files
// are listed here, and a run that finds none fails, as does a run with a file that
// declares no test.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const only = process.argv.slice(2)
// TOLLGATE_TEST_DIR: look for test files in another folder than test/ (the runner's own
// tests use it to run files they write).
const testDir = process.env.TOLLGATE_TEST_DIR === undefined ? join(root, 'test') : resolve(process.env.TOLLGATE_TEST_DIR)
const files = readdirSync(testDir, { recursive: true })
  .map(String)
  .filter(name => name.endsWith('.test.ts'))
  .map(name => relative(root, join(testDir, name)))
  .filter(name => only.length === 0 || only.some(part => name.includes(part)))
  .sort()

if (files.length === 0) {
  const matching = only.length === 0 ? '' : ` matching ${only.map(part => JSON.stringify(part)).join(' or ')}`
  console.error(`no test files found under ${relative(root, testDir)}/${matching}`)
  process.exit(1)
}
/**
 * Runs `list` in one test-runner process; returns its counts, and the files that declared
 * no test (Node reports such a file as one passing test named by its path).
 */
function run (list, env = {}) {
  const reportDir = mkdtempSync(join(tmpdir(), 'tollgate-test-'))
  const tap = join(reportDir, 'report.tap')
  const runner = [
    process.execPath, '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...list
  ]
  // Some tests hold thousands of connections (both ends in one process): raise the open-file
  // limit to what the system allows, as `ulimit -n` in a shell would (the common soft limit,
  // 1024, is far below the hard one).
  const result = spawnSync('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...runner], {
    cwd: root, stdio: 'inherit', env: { ...process.env, ...env }
  })
  const summary = readFileSync(tap, 'utf8')
  rmSync(reportDir, { recursive: true, force: true })
  const count = (name) => Number(summary.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0)
  const reported = new Set(summary.split('\n').map(line => /^ok \d+ - (.*)$/.exec(line)?.[1]).filter(name => name !== undefined))
  const empty = list.filter(file => reported.has(resolve(root, file)) || reported.has(file))
  return { tests: count('tests'), passed: count('pass'), failed: count('fail'), status: result.status ?? 1, empty }
}

console.log(`running ${files.length} test files`)
const passes = [run(files)]
// The e2e files that start a gateway in-process run once more on the other engine
// (@fastify/reply-from): both engines are first-class, and every behaviour holds on both.
const onBothEngines = files.filter(file => file.startsWith(join('test', 'e2e')) && readFileSync(join(root, file), 'utf8').match(/start(Admin)?Gateway\(|cacheLab\(/) !== null)
if (onBothEngines.length > 0 && process.env.TOLLGATE_TEST_ENGINE === undefined) {
  console.log(`\nrunning ${onBothEngines.length} e2e test files again on the reply-from engine`)
  passes.push(run(onBothEngines, { TOLLGATE_TEST_ENGINE: 'reply-from' }))
}
// A share of the e2e files runs once more with the gateway's listener on TLS + HTTP/2 and
// the test clients speaking h2 (test/helpers/downstream.ts): files that reach the gateway
// through `gw.url` and client(t), covering routing and rewrites, hooks, auth, limits, cache
// and balancing (raw HTTP/1.1 cases live in files of their own, routing-raw for routing).
// Every route feature must behave the same over both protocols; about 50 s on 2 cores.
const OVER_H2 = ['routing', 'hooks', 'auth-jwt', 'rate-limit', 'cache-revalidation', 'balancing'].map(name => join('test', 'e2e', `${name}.test.ts`))
const overH2 = files.filter(file => OVER_H2.includes(file))
if (overH2.length > 0 && process.env.TOLLGATE_TEST_DOWNSTREAM === undefined) {
  console.log(`\nrunning ${overH2.length} e2e test files again with HTTP/2 clients on a TLS listener`)
  passes.push(run(overH2, { TOLLGATE_TEST_DOWNSTREAM: 'h2' }))
}
const total = (key) => passes.reduce((sum, pass) => sum + pass[key], 0)
const tests = total('tests')
console.log(`${total('passed')} passed, ${total('failed')} failed`)
const empty = passes.flatMap(pass => pass.empty)
for (const file of new Set(empty)) console.error(`the test runner ran no test in ${file}`)
if (!(tests > 0)) console.error('the test runner ran no test')
if (empty.length > 0 || !(tests > 0)) process.exit(1)
process.exit(passes.every(pass => pass.status === 0) ? 0 : 1)
