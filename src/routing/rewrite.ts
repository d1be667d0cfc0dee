/**
 * Path and query rewrites (`rewrite:` of a route), compiled into closures at load: a
 * request only concatenates strings.
 */

export interface RewriteSpec {
  readonly stripPrefix?: string
  readonly path?: string
  readonly query?: { readonly remove?: readonly string[], readonly set?: Readonly<Record<string, string>> }
}

export interface RewriteInput {
  readonly path: string
  readonly rest: string
  readonly captures: readonly string[] | null
  readonly named: Readonly<Record<string, string>> | null
}

export type PathRewriter = (m: RewriteInput) => string

const unchangedPath: PathRewriter = (m) => m.path

/**
 * `path` (a template) replaces the whole path and wins over `stripPrefix`: `{rest}` is what
 * a prefix's `*` matched, `{1}`… are regex groups, `{name}` named groups. `stripPrefix`
 * removes a prefix at a segment boundary. Throws on an unknown placeholder.
 */
export function compilePathRewrite (spec: RewriteSpec | undefined): PathRewriter {
  if (spec?.path !== undefined) return compileTemplate(spec.path)
  const prefix = spec?.stripPrefix
  if (prefix === undefined || prefix === '/' || prefix === '') return unchangedPath
  const bare = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
  return (m) => {
    const path = m.path
    if (path === bare) return '/'
    if (path.startsWith(bare) && path.charCodeAt(bare.length) === 47) return path.slice(bare.length)
    return path
  }
}

type Slot = { kind: 'rest' } | { kind: 'index', index: number } | { kind: 'name', name: string }

function compileTemplate (template: string): PathRewriter {
  const literals: string[] = []
  const slots: Slot[] = []
  let last = 0
  const placeholder = /\{([^{}]*)\}/g
  for (let m = placeholder.exec(template); m !== null; m = placeholder.exec(template)) {
    literals.push(template.slice(last, m.index))
    const name = m[1] ?? ''
    if (name === 'rest') slots.push({ kind: 'rest' })
    else if (/^[1-9]\d*$/.test(name)) slots.push({ kind: 'index', index: Number(name) - 1 })
    else if (/^[A-Za-z_$][\w$]*$/.test(name)) slots.push({ kind: 'name', name })
    else throw new Error(`unknown placeholder {${name}} (use {rest}, {1}, {2}… or a named group)`)
    last = m.index + m[0].length
  }
  literals.push(template.slice(last))
  const lead = template.startsWith('/') ? '' : '/'
  if (slots.length === 0) {
    const fixed = lead + template
    return () => fixed
  }
  return (m) => {
    let out = lead + (literals[0] as string)
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as Slot
      if (slot.kind === 'rest') out += m.rest
      else if (slot.kind === 'index') out += m.captures?.[slot.index] ?? ''
      else out += m.named?.[slot.name] ?? ''
      out += literals[i + 1] as string
    }
    return out
  }
}

/**
 * `remove` (names, `*` globs) and `set` on the raw query. null when there is nothing to
 * do. Untouched parameters keep their order and encoding; `set` replaces the first
 * occurrence in place (dropping later ones) or appends.
 */
export function compileQueryRewrite (spec: RewriteSpec['query']): ((query: string) => string) | null {
  const remove = spec?.remove ?? []
  const set = Object.entries(spec?.set ?? {})
  if (remove.length === 0 && set.length === 0) return null
  const literal = new Set(remove.filter(n => !n.includes('*')))
  const globs = remove.filter(n => n.includes('*')).map(globToRegExp)
  const setNames = new Map(set.map(([name, value]) => [name, `${encodeURIComponent(name)}=${encodeURIComponent(value)}`]))
  const drop = (name: string): boolean => literal.has(name) || globs.some(g => g.test(name))
  return (query) => {
    const kept: string[] = []
    const done = new Set<string>()
    if (query !== '') {
      for (const pair of query.split('&')) {
        if (pair === '') continue
        const eq = pair.indexOf('=')
        const name = safeDecode(eq < 0 ? pair : pair.slice(0, eq))
        const replacement = setNames.get(name)
        if (replacement !== undefined) {
          if (!done.has(name)) kept.push(replacement)
          done.add(name)
        } else if (!drop(name)) {
          kept.push(pair)
        }
      }
    }
    for (const [name, pair] of setNames) if (!done.has(name)) kept.push(pair)
    return kept.join('&')
  }
}

function globToRegExp (glob: string): RegExp {
  const source = glob.split('*').map(part => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${source}$`)
}

function safeDecode (text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}
