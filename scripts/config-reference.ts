/**
 * The key tables of docs/config.md, made from the config schema: each
 * `<!-- generated:ID -->` … `<!-- /generated -->` block is rewritten with the keys under ID
 * (`server`, `upstreams.<name>.healthCheck`, `routes[].auth`), with their type, default,
 * example and meaning; everything outside the markers is left as written. Every key of the
 * schema must fall in some block, so a key added to the schema cannot go undocumented.
 */
import { GatewayConfigSchema } from '../src/config/schema.js'
import { shortType, type SchemaNode } from '../src/config/schema-text.js'

/** The id of the block listing the top-level keys themselves (each section has its own block). */
export const TOP_LEVEL = 'top-level'

const BLOCK = /<!-- generated:(\S+?) -->\n[\s\S]*?<!-- \/generated -->/g

/** A problem that leaves the reference incomplete: named keys, one per line. */
export class IncompleteReferenceError extends Error {
  constructor (readonly problems: readonly string[]) {
    super(`docs/config.md cannot be generated:\n${problems.map(p => `  ${p}`).join('\n')}`)
    this.name = 'IncompleteReferenceError'
  }
}

interface KeyEntry {
  /** `server.limits.headersTimeout`, `upstreams.<name>.targets`, `routes[].auth.type`. */
  readonly path: string
  readonly schema: SchemaNode
  readonly required: boolean
  /** Its value holds keys of its own (listed in rows after it). */
  readonly hasKeys: boolean
  /** Where those keys are: the path itself, or of its items (`routes[]`) or map values (`upstreams.<name>`). */
  readonly inner: string | null
}

/** Every key of the schema, parents before their children, in schema order. */
export function schemaKeys (root: SchemaNode = GatewayConfigSchema as SchemaNode): KeyEntry[] {
  const out: KeyEntry[] = []
  const walk = (schema: SchemaNode, prefix: string): void => {
    const required = new Set(schema.required ?? [])
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      const path = prefix === '' ? key : `${prefix}.${key}`
      const inner = containerOf(child)
      out.push({ path, schema: child, required: required.has(key), hasKeys: inner !== null, inner: inner === null ? null : path + inner.suffix })
      if (inner !== null) walk(inner.schema, path + inner.suffix)
    }
  }
  walk(root, '')
  return out
}

/** The object holding keys inside a value (itself, a list's items, a map's values), if any. */
function containerOf (schema: SchemaNode): { schema: SchemaNode, suffix: string } | null {
  if (schema.properties !== undefined) return { schema, suffix: '' }
  if (schema.items?.properties !== undefined) return { schema: schema.items, suffix: '[]' }
  const values = Object.values(schema.patternProperties ?? {})[0]
  if (values?.properties !== undefined) return { schema: values, suffix: '.<name>' }
  return null
}

/** `path` is `block` or within it (`upstreams.<name>` holds `upstreams.<name>.tls.ca`). */
function isWithin (path: string, block: string): boolean {
  return path === block || path.startsWith(`${block}.`) || path.startsWith(`${block}[]`)
}

/** The block a key is listed in: the deepest one holding it; top-level keys are in TOP_LEVEL. */
function blockOf (path: string, blocks: readonly string[]): string | undefined {
  let best: string | undefined
  for (const block of blocks) {
    if (block !== TOP_LEVEL && isWithin(path, block) && path !== block && (best === undefined || block.length > best.length)) best = block
  }
  if (best === undefined && !path.includes('.') && blocks.includes(TOP_LEVEL)) return TOP_LEVEL
  return best
}

/** `document` with every generated block rewritten; throws IncompleteReferenceError when keys are left out. */
export function renderReference (document: string, root: SchemaNode = GatewayConfigSchema as SchemaNode): string {
  const blocks = [...document.matchAll(BLOCK)].map(m => m[1] ?? '')
  const keys = schemaKeys(root)
  const problems: string[] = []
  const known = new Set(keys.flatMap(k => k.inner === null ? [k.path] : [k.path, k.inner]))
  for (const block of blocks) {
    if (block !== TOP_LEVEL && !known.has(block)) problems.push(`<!-- generated:${block} -->: no such key in the schema`)
  }
  const anchors = headingAnchors(document)
  const rows = new Map<string, string[]>(blocks.map(block => [block, []]))
  const unlisted = new Set<string>()
  for (const entry of keys) {
    const block = blockOf(entry.path, blocks)
    // A key with a block of its own and none around it is listed by its keys alone.
    if (block === undefined && (blocks.includes(entry.path) || (entry.inner !== null && blocks.includes(entry.inner)))) continue
    if (block === undefined) {
      // Only the outermost: its keys are left out with it.
      if (![...unlisted].some(parent => isWithin(entry.path, parent))) {
        problems.push(`${entry.path}: in no generated block (add <!-- generated:${entry.inner ?? entry.path} --> … <!-- /generated --> to docs/config.md where it belongs)`)
      }
      unlisted.add(entry.inner ?? entry.path)
      continue
    }
    const row = renderRow(entry, block, anchors, problems)
    if (row !== null) rows.get(block)?.push(row)
  }
  if (problems.length > 0) throw new IncompleteReferenceError(problems)
  return document.replace(BLOCK, (_all, block: string) => {
    const lines = rows.get(block) ?? []
    return `<!-- generated:${block} -->\n${HEADER}\n${lines.join('\n')}\n<!-- /generated -->`
  })
}

const HEADER = '| key | type | default | example | meaning |\n| --- | --- | --- | --- | --- |'

/**
 * One table row; null for a key that only groups others and says nothing itself (its
 * keys follow, named in full: `limits.headersTimeout`).
 */
function renderRow (entry: KeyEntry, block: string, anchors: ReadonlyMap<string, string>, problems: string[]): string | null {
  const { schema } = entry
  const ownAnchor = anchors.get(entry.path) ?? (entry.inner === null ? undefined : anchors.get(entry.inner))
  const ownBlock = ownAnchor !== undefined
  const isList = schema.items !== undefined
  if (entry.hasKeys && !ownBlock && !isList && schema.description === undefined) return null
  const name = block === TOP_LEVEL ? entry.path : entry.path.slice(block.length).replace(/^\./, '')
  const example = schema.examples?.[0] ?? schema.default
  if (example === undefined && !entry.hasKeys) problems.push(`${entry.path}: has no example (add examples: [...] to its schema)`)
  const meaning = [schema.description ?? '', ownAnchor !== undefined ? `See [below](#${ownAnchor}).` : '']
    .filter(text => text !== '').join(' ')
  return `| \`${name}\` | ${cell(typeCell(entry))} | ${defaultCell(entry)} | ${example === undefined ? '' : code(example)} | ${cell(meaning)} |`
}

/** A value holding keys is an object, or a list or map of them: its keys are the rows after it. */
function typeCell (entry: KeyEntry): string {
  if (!entry.hasKeys) return shortType(entry.schema)
  if (entry.schema.properties !== undefined) return 'object'
  return entry.schema.items !== undefined ? 'list of object' : 'map of object'
}

function defaultCell (entry: KeyEntry): string {
  if (entry.schema.default !== undefined) return code(entry.schema.default)
  if (entry.schema.defaultText !== undefined) return cell(entry.schema.defaultText)
  return entry.required ? 'required' : '—'
}

/** For each block, the anchor of the heading it sits under: where a row points to its keys' table. */
function headingAnchors (document: string): Map<string, string> {
  const anchors = new Map<string, string>()
  let heading = ''
  for (const line of document.split('\n')) {
    const title = /^#{1,6}\s+(.*)$/.exec(line)?.[1]
    if (title !== undefined) heading = title
    const block = /^<!-- generated:(\S+?) -->$/.exec(line)?.[1]
    if (block !== undefined) anchors.set(block, githubAnchor(heading))
  }
  return anchors
}

/** The id GitHub gives a heading: lower case, punctuation dropped, spaces as dashes. */
function githubAnchor (title: string): string {
  return title.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')
}

function cell (text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

function code (value: unknown): string {
  return `\`${cell(inlineYaml(value))}\``
}

/** A value as it is written in a YAML config: `30s`, `[GET, HEAD]`, `{ host: 0.0.0.0, port: 8080 }`. */
export function inlineYaml (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inlineYaml).join(', ')}]`
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value).map(([k, v]) => `${inlineYaml(k)}: ${inlineYaml(v)}`).join(', ')} }`
  }
  if (typeof value === 'string' && !needsQuotes(value)) return value
  return JSON.stringify(value)
}

/** Strings YAML would read as something else (a number, a boolean, null, syntax). */
function needsQuotes (text: string): boolean {
  if (text === '' || /^(true|false|null|yes|no|on|off|~)$/i.test(text)) return true
  if (/^[-+]?(\d|\.\d)/.test(text) && !Number.isNaN(Number(text))) return true
  return !/^[A-Za-z0-9_/.$][\w ./:@*+$-]*$/.test(text) || /[:#]\s|\s$/.test(text) || text.includes('${')
}
