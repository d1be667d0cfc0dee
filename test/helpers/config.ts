/** Reading what a refused config was refused for. */
import assert from 'node:assert/strict'
import { ConfigError } from '../../src/config/errors.js'

/** The `path: message` lines `fn` is refused with; fails the test when it is accepted. */
export function issuesOf (fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
    return err.issues.map(i => `${i.path}: ${i.message}`)
  }
  assert.fail('the config was accepted')
}
