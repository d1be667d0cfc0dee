/**
 * How a refused config is reported: every problem found, each as `path: message`, the way
 * `nginx -t` lists them. Loading collects issues instead of stopping at the first, so one
 * run of `tollgate validate` shows everything to fix.
 */
export interface ConfigIssue {
  /** Where in the config: `routes[0].match.path`, `upstreams.blue.targets[1]`; '' = the file. */
  readonly path: string
  readonly message: string
}

export class ConfigError extends Error {
  readonly code = 'TOLLGATE_CONFIG_INVALID'
  readonly issues: readonly ConfigIssue[]

  constructor (issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(`invalid config:\n${formatIssues(issues)}`, options)
    this.name = 'ConfigError'
    this.issues = issues
  }
}

/** One line per issue, always: a message that spans lines (a module's error) is joined. */
export function formatIssues (issues: readonly ConfigIssue[]): string {
  return issues.map(i => {
    const message = i.message.replace(/\s*[\r\n]+\s*/g, ' ')
    return i.path === '' ? message : `${i.path}: ${message}`
  }).join('\n')
}

/** Joins path segments the way users read them: `a.b[2].c`. */
export function joinPath (base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`
  const safe = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key)
  if (base === '') return safe
  return safe.startsWith('"') ? `${base}[${safe}]` : `${base}.${safe}`
}

/** Collects issues while walking a config. */
export class IssueList {
  readonly items: ConfigIssue[] = []

  add (path: string, message: string): void {
    this.items.push({ path, message })
  }

  /** Runs `fn`; an Error it throws becomes an issue at `path`, and undefined is returned. */
  attempt<T> (path: string, fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      this.add(path, err instanceof Error ? err.message : String(err))
      return undefined
    }
  }

  throwIfAny (): void {
    if (this.items.length > 0) throw new ConfigError(this.items)
  }
}

/** An error's message on one line, whatever was thrown. */
export function messageOf (err: unknown): string {
  let text: string
  try {
    text = err instanceof Error ? err.message : String(err)
  } catch {
    text = 'a value that cannot be shown'
  }
  return oneLine(text)
}

/**
 * The first line of a message; a first line that only announces what follows
 * ("Transform failed with 1 error:") keeps the line after it.
 */
export function oneLine (text: string): string {
  const lines = text.split(/\r?\n/).map(line => line.trim()).filter(line => line !== '')
  const first = lines[0] ?? ''
  const second = lines[1]
  return first.endsWith(':') && second !== undefined ? `${first} ${second}` : first
}
