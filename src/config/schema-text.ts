/**
 * The config schema told in words: what a value must be (`one of a, b, c`, `an integer
 * from 1 to 1000`), for validation messages and for the generated reference, so that a
 * key added to the schema is described in both without a sentence written for it.
 */
import { DURATION_PATTERN, SIZE_PATTERN } from './schema.js'

/** The part of a JSON Schema (as TypeBox builds it) that is read here. */
export interface SchemaNode {
  readonly type?: string | readonly string[]
  readonly const?: unknown
  readonly anyOf?: readonly SchemaNode[]
  readonly properties?: Readonly<Record<string, SchemaNode>>
  readonly patternProperties?: Readonly<Record<string, SchemaNode>>
  readonly required?: readonly string[]
  readonly items?: SchemaNode
  readonly minimum?: number
  readonly maximum?: number
  readonly minLength?: number
  readonly minItems?: number
  readonly pattern?: string
  readonly description?: string
  readonly errorMessage?: string
  readonly default?: unknown
  /** What the default is when no value can say it (computed from other keys, or "none"). */
  readonly defaultText?: string
  readonly examples?: readonly unknown[]
}

/** The literal values of a union made only of literals, else null. */
export function literalsOf (schema: SchemaNode): unknown[] | null {
  if (schema.const !== undefined) return [schema.const]
  if (schema.anyOf === undefined || !schema.anyOf.every(branch => branch.const !== undefined)) return null
  return schema.anyOf.map(branch => branch.const)
}

/**
 * The message for a value that fits none of a union's branches: the allowed values
 * named (`must be one of round-robin, random`), never Ajv's "must match a schema in anyOf".
 */
export function unionMessage (schema: SchemaNode): string {
  if (schema.errorMessage !== undefined) return schema.errorMessage
  const literals = literalsOf(schema)
  if (literals !== null) return literals.length === 1 ? `must be ${plain(literals[0])}` : `must be one of ${literals.map(plain).join(', ')}`
  return `must be ${alternatives((schema.anyOf ?? []).map(phrase))}`
}

/** The value told as a noun phrase: `an integer from 1 to 1000`, `a list of strings`. */
export function phrase (schema: SchemaNode): string {
  // Quoted among other kinds of value, so that `"auto"` reads as the word to write.
  if (schema.const !== undefined) return JSON.stringify(schema.const)
  if (schema.anyOf !== undefined) {
    const literals = literalsOf(schema)
    return literals !== null ? `one of ${literals.map(plain).join(', ')}` : alternatives(schema.anyOf.map(phrase))
  }
  switch (typeOf(schema)) {
    case 'integer': return `an integer${bounds(schema)}`
    case 'number': return `a number${bounds(schema)}`
    case 'boolean': return 'true or false'
    case 'null': return 'null'
    case 'string': return schema.minLength !== undefined && schema.minLength > 0 ? 'a non-empty string' : 'a string'
    case 'array': return `a list of ${plural(schema.items === undefined ? 'value' : phrase(schema.items))}`
    case 'object': return schema.patternProperties !== undefined ? 'a map' : 'an object'
    default: return 'a value'
  }
}

/** A short type for a reference table: `duration`, `integer 1–1000`, `a \| b \| c`, `list of target`. */
export function shortType (schema: SchemaNode): string {
  if (schema.const !== undefined) return plain(schema.const)
  const literals = literalsOf(schema)
  if (literals !== null) return literals.map(plain).join(' | ')
  const named = NAMED_TYPES.find(entry => entry.matches(schema))
  if (named !== undefined) return named.name
  if (schema.anyOf !== undefined) return schema.anyOf.map(shortType).join(' | ')
  switch (typeOf(schema)) {
    case 'integer': return `integer${rangeText(schema)}`
    case 'array': return `list of ${schema.items === undefined ? 'value' : shortType(schema.items)}`
    case 'object': {
      const values = Object.values(schema.patternProperties ?? {})[0]
      if (values !== undefined) return `map of ${shortType(values)}`
      // An object among other kinds of value is told by its keys: `{ address, weight }`.
      return schema.properties === undefined ? 'object' : `{ ${Object.keys(schema.properties).join(', ')} }`
    }
    default: return typeOf(schema) ?? 'value'
  }
}

/** Unions told by one word in tables, known by their string branch's pattern. */
const NAMED_TYPES: readonly { readonly name: string, readonly matches: (schema: SchemaNode) => boolean }[] = [
  { name: 'duration', matches: s => s.anyOf?.some(branch => branch.pattern === DURATION_PATTERN) === true },
  { name: 'size', matches: s => s.anyOf?.some(branch => branch.pattern === SIZE_PATTERN) === true }
]

/** `a`, `a or b`, `a, b or c`; a part that holds "or" itself is set off by a comma. */
function alternatives (parts: readonly string[]): string {
  if (parts.length <= 1) return parts[0] ?? 'a value'
  const last = parts[parts.length - 1] ?? ''
  const head = parts.slice(0, -1).join(', ')
  return parts.some(part => part.includes(' or ')) ? `${head}, or ${last}` : `${head} or ${last}`
}

function typeOf (schema: SchemaNode): string | undefined {
  return Array.isArray(schema.type) ? schema.type[0] : schema.type as string | undefined
}

function bounds (schema: SchemaNode): string {
  const { minimum: min, maximum: max } = schema
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`
  if (min !== undefined) return ` of at least ${min}`
  if (max !== undefined) return ` of at most ${max}`
  return ''
}

function rangeText (schema: SchemaNode): string {
  const { minimum: min, maximum: max } = schema
  if (min !== undefined && max !== undefined) return ` ${min}–${max}`
  if (min !== undefined) return ` ≥ ${min}`
  if (max !== undefined) return ` ≤ ${max}`
  return ''
}

function plural (text: string): string {
  const m = /^an? (.*)$/.exec(text)
  if (m === null) return text
  return (m[1] ?? '').replace(/\b(string|integer|number|value|map|object|list)\b/, noun => `${noun}s`)
}

/** A literal as a user writes it in YAML: strings bare, everything else as JSON. */
function plain (value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}
