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
console.log(`running ${files.length} test files`)
const reportDir = mkdtempSync(join(tmpdir(), 'tollgate-test-'))
const tap = join(reportDir, 'report.tap')
const runner = [
  process.execPath, '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tap}`,
  ...files
]
// Some tests hold thousands of connections (both ends in one process): raise the open-file
// limit to what the system allows, as `ulimit -n` in a shell would (the common soft limit,
// 1024, is far below the hard one).
const result = spawnSync('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...runner], { cwd: root, stdio: 'inherit' })
const summary = readFileSync(tap, 'utf8')
rmSync(reportDir, { recursive: true, force: true })
const count = (name) => Number(summary.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0)
const tests = count('tests')
const passed = count('pass')
const failed = count('fail')
console.log(`${passed} passed, ${failed} failed`)
// A file that declares no test is reported as one passing test named by its path.
const reported = new Set(summary.split('\n').map(line => /^ok \d+ - (.*)$/.exec(line)?.[1]).filter(name => name !== undefined))
const empty = files.filter(file => reported.has(resolve(root, file)) || reported.has(file))
for (const file of empty) console.error(`the test runner ran no test in ${file}`)
if (!(tests > 0)) console.error('the test runner ran no test')
if (empty.length > 0 || !(tests > 0)) process.exit(1)
process.exit(result.status ?? 1)
