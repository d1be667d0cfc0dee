/**
 * Schema validation: Ajv compiles `GatewayConfigSchema` once per process, and its errors
 * are turned into `path: message` issues a person can act on (the offending key named,
 * one line per problem, union branches folded into one readable message).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { GatewayConfigSchema, type GatewayFileConfig } from './schema.js'
import { IssueList, joinPath } from './errors.js'
import { nearestKey } from './nearest-key.js'
import { unionMessage, type SchemaNode } from './schema-text.js'

let compiled: ValidateFunction<GatewayFileConfig> | undefined

function validator (): ValidateFunction<GatewayFileConfig> {
  if (compiled === undefined) {
    // verbose: errors carry their schema (`parentSchema`), where `errorMessage` is read.
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true })
    // `errorMessage` annotates a schema with the sentence to show when it fails as a whole.
    ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' })
    // `defaultText` says in words a default no value can (computed, or "none"): for the reference.
    ajv.addKeyword({ keyword: 'defaultText', schemaType: 'string' })
    compiled = ajv.compile<GatewayFileConfig>(GatewayConfigSchema)
  }
  return compiled
}

/** Adds one issue per schema violation; returns true when the value conforms. */
export function validateSchema (value: unknown, issues: IssueList, basePath = ''): value is GatewayFileConfig {
  const validate = validator()
  if (validate(value)) return true
  for (const issue of toIssues(validate.errors ?? [])) {
    issues.add(prefixPath(basePath, issue.path), issue.message)
  }
  return false
}

function toIssues (errors: readonly ErrorObject[]): { path: string, message: string }[] {
  // A failed union reports the union itself and every branch's complaint; the branches'
  // complaints are noise, so keep only the union's (with its errorMessage when it has one).
  const unionPaths = errors.filter(e => e.keyword === 'anyOf').map(e => e.instancePath)
  const kept = errors.filter(e => e.keyword === 'anyOf' || !unionPaths.some(p => isWithin(e.instancePath, p)))
  // A value of the right type that is only too large says more than "must be a duration":
  // a branch's upper bound with its own message speaks for the union.
  const bounds = new Map<string, string>()
  for (const e of errors) {
    const custom = (e.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage
    if (e.keyword === 'maximum' && typeof custom === 'string') bounds.set(e.instancePath, custom)
  }
  const seen = new Set<string>()
  const out: { path: string, message: string }[] = []
  for (const error of kept) {
    const bound = error.keyword === 'anyOf' ? bounds.get(error.instancePath) : undefined
    const { path, message } = bound === undefined ? describe(error) : { path: pointerToPath(error.instancePath), message: bound }
    const key = `${path}\u0000${message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ path, message })
  }
  return out
}

function unknownKeyMessage (pointer: string, key: string, known: Iterable<string>): string {
  const near = nearestKey(key, known)
  return near === undefined ? 'unknown key' : `unknown key (did you mean ${JSON.stringify(near)}?)`
}

function describe (error: ErrorObject): { path: string, message: string } {
  const path = pointerToPath(error.instancePath)
  const schema = (error.parentSchema ?? {}) as SchemaNode
  const custom = schema.errorMessage
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty
      // A map (keys by pattern, as upstream names) refuses a name, not an unknown key.
      if (schema.properties === undefined && custom !== undefined) return { path: joinPath(path, key), message: custom }
      return { path: joinPath(path, key), message: unknownKeyMessage(error.instancePath, key, Object.keys(schema.properties ?? {})) }
    }
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty
      return { path: joinPath(path, key), message: 'is required' }
    }
    case 'anyOf':
    case 'const':
      return { path, message: unionMessage(schema) }
    case 'type':
      // A literal of the wrong type fails its type too: one message names the value wanted.
      if (schema.const !== undefined) return { path, message: unionMessage(schema) }
      break
    case 'pattern':
    case 'minimum':
    case 'maximum':
      if (typeof custom === 'string') return { path, message: custom }
      break
    case 'propertyNames':
      return { path, message: 'has an invalid key' }
  }
  return { path, message: error.message ?? 'is invalid' }
}

function isWithin (path: string, parent: string): boolean {
  return path === parent || path.startsWith(parent + '/')
}

function pointerToPath (pointer: string): string {
  if (pointer === '') return ''
  let path = ''
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    path = joinPath(path, /^\d+$/.test(key) ? Number(key) : key)
  }
  return path
}

function prefixPath (base: string, path: string): string {
  if (base === '') return path
  if (path === '') return base
  return path.startsWith('[') ? base + path : `${base}.${path}`
}
