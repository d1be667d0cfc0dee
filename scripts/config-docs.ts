/**
 * `npm run docs`: rewrites the generated key tables of docs/config.md from the config
 * schema (see config-reference.ts). Exits 1, naming the keys, when the schema has keys no
 * block lists or keys without an example.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { IncompleteReferenceError, renderReference } from './config-reference.js'

export const CONFIG_DOC = fileURLToPath(new URL('../docs/config.md', import.meta.url))

try {
  const before = readFileSync(CONFIG_DOC, 'utf8')
  const after = renderReference(before)
  if (after !== before) writeFileSync(CONFIG_DOC, after)
  process.stdout.write(after === before ? 'docs/config.md is up to date\n' : 'docs/config.md rewritten\n')
} catch (err) {
  if (!(err instanceof IncompleteReferenceError)) throw err
  process.stderr.write(`${err.message}\n`)
  process.exitCode = 1
}
