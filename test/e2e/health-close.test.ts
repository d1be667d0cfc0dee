// Closing a gateway stops every probe, timer and webhook delivery of its health checks:
// the process then exits by itself, with nothing of the health code left alive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { runToEnd } from '../helpers/child.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SCRIPT = fileURLToPath(new URL('../helpers/health-close-process.ts', import.meta.url))

test('closing the gateway stops every probe, timer and webhook delivery, and the process exits by itself', async (t) => {
  const run = await runToEnd(t, process.execPath, ['--import', 'tsx', SCRIPT], { cwd: ROOT, timeoutMs: 60_000 })
  assert.equal(run.code, 0, `exit ${String(run.code)} ${String(run.signal)}\n${run.stdout}\n${run.stderr}`)
  const report = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { ejected: boolean, status: number, body: string, left: string[] }
  assert.deepEqual([report.status, report.body], [503, 'ok'], 'the request meant to trigger an ejection was not answered by the upstream')
  assert.equal(report.ejected, true, 'nothing was ejected: the close had no ejection timer to clear')
  assert.deepEqual(report.left, [], `still alive after close:\n${report.left.join('\n\n')}`)
})
