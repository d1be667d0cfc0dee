/**
 * `${NAME}` and `${NAME:-default}` in string values, replaced from the environment and
 * from a `.env` file beside the config. Runs on the parsed tree (not the file text), so a
 * value can never break the file's syntax.
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { IssueList, joinPath } from './errors.js'

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g
const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/

export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Reads a `.env` file (KEY=value lines). Values already in the process environment win,
 * as with dotenv: the file provides defaults, the deployment overrides them.
 */
export function readDotEnv (file: string, env: Environment = process.env): Record<string, string | undefined> {
  if (!existsSync(file)) return { ...env }
  const fromFile = parseEnv(readFileSync(file, 'utf8'))
  return { ...fromFile, ...env }
}

/**
 * Returns a copy of `value` with every reference replaced. A string that is exactly one
 * reference and resolves to an integer or `true`/`false` becomes a number or boolean, so
 * `port: ${PORT}` works. A reference to an unset variable without a default is an issue.
 */
export function substituteEnv (value: unknown, env: Environment, issues: IssueList, path = ''): unknown {
  if (typeof value === 'string') return substituteString(value, env, issues, path)
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, issues, joinPath(path, i)))
  if (value !== null && typeof value === 'object' && isPlainObject(value)) {
    // fromEntries defines keys: a "__proto__" key stays data, to be checked like any other.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, issues, joinPath(path, key))]))
  }
  return value
}

function substituteString (text: string, env: Environment, issues: IssueList, path: string): unknown {
  if (!text.includes('${')) return text
  const replaced = text.replace(REFERENCE, (_all, name: string, fallback: string | undefined) => {
    const found = env[name]
    if (found !== undefined && found !== '') return found
    if (fallback !== undefined) return fallback
    issues.add(path, `environment variable ${name} is not set`)
    return ''
  })
  if (WHOLE_REFERENCE.test(text)) {
    if (/^-?\d+$/.test(replaced)) return Number(replaced)
    if (replaced === 'true') return true
    if (replaced === 'false') return false
  }
  return replaced
}

function isPlainObject (value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
