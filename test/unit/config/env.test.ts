import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { substituteEnv, readDotEnv } from '../../../src/config/env.js'
import { IssueList } from '../../../src/config/errors.js'

test('${NAME} and ${NAME:-default} are replaced in nested string values', () => {
  const issues = new IssueList()
  const out = substituteEnv({ a: 'x-${USER_NAME}-y', list: ['${MISSING:-fallback}'], n: 3 }, { USER_NAME: 'ann' }, issues)
  assert.deepEqual(out, { a: 'x-ann-y', list: ['fallback'], n: 3 })
  assert.equal(issues.items.length, 0)
})

test('a whole-value reference that resolves to a number or boolean becomes one', () => {
  const out = substituteEnv({ port: '${PORT}', on: '${ON:-true}', text: 'p${PORT}' }, { PORT: '8081' }, new IssueList())
  assert.deepEqual(out, { port: 8081, on: true, text: 'p8081' })
})

test('an unset variable without a default is reported at its path', () => {
  const issues = new IssueList()
  substituteEnv({ upstreams: { blue: { targets: ['${BLUE_ADDR}'] } } }, {}, issues)
  assert.deepEqual(issues.items, [{ path: 'upstreams.blue.targets[0]', message: 'environment variable BLUE_ADDR is not set' }])
})

test('.env values fill in what the environment does not set', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-env-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, '.env'), 'FROM_FILE=file\nBOTH=file\n')
  const env = readDotEnv(join(dir, '.env'), { BOTH: 'process' })
  assert.equal(env.FROM_FILE, 'file')
  assert.equal(env.BOTH, 'process')
})
