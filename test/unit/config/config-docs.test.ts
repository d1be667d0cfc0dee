import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { GatewayConfigSchema } from '../../../src/config/schema.js'
import type { SchemaNode } from '../../../src/config/schema-text.js'
import { IncompleteReferenceError, inlineYaml, renderReference, schemaKeys } from '../../../scripts/config-reference.js'

const DOC = fileURLToPath(new URL('../../../docs/config.md', import.meta.url))

test('docs/config.md is what `npm run docs` makes of the schema', () => {
  const written = readFileSync(DOC, 'utf8')
  const generated = renderReference(written)
  assert.ok(generated === written, 'docs/config.md is out of date with src/config/schema.ts: run `npm run docs` and commit the result')
})

test('every key of the schema is in the reference with its type, default and example', () => {
  const doc = readFileSync(DOC, 'utf8')
  for (const key of schemaKeys()) {
    if (key.hasKeys) continue
    const name = key.path.split(/\.|\[\]\./).pop() ?? ''
    assert.ok(doc.includes(`${name}\` |`), `${key.path} is not in docs/config.md`)
  }
  assert.match(doc, /^\| `balancer` \| round-robin \\\| random \\\| least-connections \\\| consistent-hash \\\| sticky-cookie \| `round-robin` \| `least-connections` \| /m)
  assert.match(doc, /^\| `gracefulShutdown` \| duration \| `30s` \| `10s` \| on SIGTERM/m)
})

const root = (properties: Record<string, SchemaNode>): SchemaNode => ({ type: 'object', properties })
const leaf = (examples: unknown[] = ['x']): SchemaNode => ({ type: 'string', examples })

test('only what lies between the markers is rewritten', () => {
  const doc = 'intro\n\n<!-- generated:server -->\nstale\n<!-- /generated -->\n\nprose after\n'
  const out = renderReference(doc, root({ server: root({ port: { type: 'integer', default: 8080, examples: [80], description: 'the port.' } }) }))
  assert.equal(out, 'intro\n\n<!-- generated:server -->\n| key | type | default | example | meaning |\n| --- | --- | --- | --- | --- |\n| `port` | integer | `8080` | `80` | the port. |\n<!-- /generated -->\n\nprose after\n')
})

test('a key in no generated block fails the generation, naming the key and the block to add', () => {
  const schema = root({ server: root({ port: leaf() }), metrics: root({ path: leaf(), listen: root({ port: leaf() }) }) })
  assert.throws(() => renderReference('<!-- generated:server -->\n<!-- /generated -->\n', schema), (err: unknown) => {
    assert.ok(err instanceof IncompleteReferenceError)
    assert.deepEqual(err.problems, ['metrics: in no generated block (add <!-- generated:metrics --> … <!-- /generated --> to docs/config.md where it belongs)'])
    return true
  })
})

test('a key without an example, and a block naming no key, fail the generation', () => {
  const schema = root({ server: root({ port: leaf([]), host: { type: 'string' } }) })
  assert.throws(() => renderReference('<!-- generated:server -->\n<!-- /generated -->\n<!-- generated:servr -->\n<!-- /generated -->\n', schema), (err: unknown) => {
    assert.ok(err instanceof IncompleteReferenceError)
    assert.deepEqual(err.problems, [
      '<!-- generated:servr -->: no such key in the schema',
      'server.port: has no example (add examples: [...] to its schema)',
      'server.host: has no example (add examples: [...] to its schema)'
    ])
    return true
  })
})

test('every example and every default in the schema is a value the schema accepts', () => {
  const ajv = new Ajv({ strict: false, allowUnionTypes: true })
  for (const key of schemaKeys()) {
    const validate = ajv.compile(key.schema as object)
    const values = [...(key.schema.examples ?? []), ...(key.schema.default === undefined ? [] : [key.schema.default])]
    for (const value of values) assert.ok(validate(value), `${key.path}: ${JSON.stringify(value)} is refused: ${ajv.errorsText(validate.errors)}`)
  }
  assert.ok(schemaKeys(GatewayConfigSchema as SchemaNode).length > 100)
})

test('values are shown as they are written in YAML, quoted only where YAML would read them otherwise', () => {
  assert.equal(inlineYaml('30s'), '30s')
  assert.equal(inlineYaml(['connect-error', 502]), '[connect-error, 502]')
  assert.equal(inlineYaml({ host: '0.0.0.0', port: 8080 }), '{ host: 0.0.0.0, port: 8080 }')
  assert.equal(inlineYaml('true'), '"true"')
  assert.equal(inlineYaml('8080'), '"8080"')
  assert.equal(inlineYaml('*.example.com'), '"*.example.com"')
  assert.equal(inlineYaml(null), 'null')
})
