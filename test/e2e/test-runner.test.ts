import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { runToEnd, type FinishedRun } from '../helpers/child.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUNNER = join(ROOT, 'test', 'run.mjs')

/** `node test/run.mjs …` as `npm test` runs it, over test files in `testDir` (default test/). */
async function runner (t: TestContext, args: string[], testDir?: string, timeoutMs = 60_000): Promise<FinishedRun> {
  const env = { ...process.env }
  // Set for the files of a test run: a runner started with it would not run as a runner.
  delete env.NODE_TEST_CONTEXT
  delete env.TOLLGATE_TEST_DIR
  if (testDir !== undefined) env.TOLLGATE_TEST_DIR = testDir
  return await runToEnd(t, process.execPath, [RUNNER, ...args], { cwd: ROOT, env, timeoutMs })
}

/** A folder of test files, removed after the test. */
function testFolder (t: TestContext, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-runner-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

test('a filter that matches no test file fails the run', async (t) => {
  // Finding nothing takes no time; a runner that went on would run whatever Node finds.
  const run = await runner(t, ['no-test-file-is-named-like-this'], undefined, 10_000)
  assert.equal(run.code, 1, run.stdout + run.stderr)
  assert.match(run.stderr, /^no test files found under test\/ matching "no-test-file-is-named-like-this"$/m)
})

test('a test file that declares no test fails the run, even beside one that does', async (t) => {
  const dir = testFolder(t, {
    'empty.test.ts': 'import \'node:test\'\nexport {}\n',
    'one.test.ts': 'import { test } from \'node:test\'\nimport assert from \'node:assert/strict\'\ntest(\'adds\', () => { assert.equal(1 + 1, 2) })\n'
  })
  const run = await runner(t, [], dir)
  assert.equal(run.code, 1, run.stdout + run.stderr)
  assert.match(run.stdout, /^running 2 test files$/m)
  assert.match(run.stderr, /^the test runner ran no test in \S*\/empty\.test\.ts$/m)
})

test('the run passes when its tests pass and fails when one fails', async (t) => {
  const passing = testFolder(t, {
    'one.test.ts': 'import { test } from \'node:test\'\nimport assert from \'node:assert/strict\'\ntest(\'adds\', () => { assert.equal(1 + 1, 2) })\n'
  })
  const passed = await runner(t, [], passing)
  assert.equal(passed.code, 0, passed.stdout + passed.stderr)
  assert.match(passed.stdout, /^1 passed, 0 failed$/m)

  const failing = testFolder(t, {
    'one.test.ts': 'import { test } from \'node:test\'\nimport assert from \'node:assert/strict\'\ntest(\'adds\', () => { assert.equal(1 + 1, 2) })\n',
    'two.test.ts': 'import { test } from \'node:test\'\nimport assert from \'node:assert/strict\'\ntest(\'adds wrongly\', () => { assert.equal(1 + 1, 3, \'one and one\') })\n'
  })
  const failed = await runner(t, [], failing)
  assert.notEqual(failed.code, 0, failed.stdout + failed.stderr)
  assert.match(failed.stdout, /^1 passed, 1 failed$/m)
  assert.match(failed.stdout, /one and one/)
})
