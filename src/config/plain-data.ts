/**
 * What a config file or module hands over, copied into plain data before anything else
 * reads it. Everything after this (env substitution, the schema, compile) walks the
 * config recursively and trusts it to be a finite tree of plain values; a module can hand
 * over anything: an object containing itself, a getter that throws, a proxy, or (from a
 * JSON file) 100 000 levels of nesting. Here that becomes a `path: message` issue instead
 * of a stack overflow or a crash. The walk keeps its own stack, so no input can overflow
 * the call stack, and reads every property exactly once.
 */
import { IssueList, joinPath, messageOf } from './errors.js'

/** Deeper than any config needs (a route's header rules are 5 levels down). */
export const MAX_CONFIG_DEPTH = 64
/** Values in one config, counted as they are copied: bounds the walk over shared objects. */
export const MAX_CONFIG_VALUES = 1_000_000

export type PathSegment = string | number

interface Frame {
  readonly source: object
  readonly copy: Record<string, unknown> | unknown[]
  readonly keys: readonly PathSegment[]
  readonly segments: readonly PathSegment[]
  readonly path: string
  next: number
}

/**
 * A copy of `value` made only of plain objects, arrays and primitives, or undefined with
 * issues added. Functions are kept where route hooks go (`routes[N].hooks.<name>`) and
 * refused anywhere else. `segments` is where `value` sits in the whole config.
 */
export function toPlainData (value: unknown, segments: readonly PathSegment[], issues: IssueList): unknown {
  const before = issues.items.length
  const stack: Frame[] = []
  /** Objects being copied, with their paths: meeting one again inside itself is a loop. */
  const open = new Map<object, string>()
  let count = 0
  let result: unknown

  /** Copies a primitive, or opens a frame for an object; returns what goes in its place. */
  const visit = (item: unknown, at: readonly PathSegment[], path: string): unknown => {
    if (item === null || (typeof item !== 'object' && typeof item !== 'function')) return item
    // An issue at '' has no path to name what it is about.
    const subject = path === '' ? 'the config ' : ''
    if (typeof item === 'function') {
      if (isHookPosition(at)) return item
      issues.add(path, `${subject}is a function; functions are only allowed as route hooks (routes[].hooks)`)
      return undefined
    }
    const loop = open.get(item)
    if (loop !== undefined) {
      issues.add(path, `refers to itself (a loop back to ${loop === '' ? 'the top of the config' : loop})`)
      return undefined
    }
    if (stack.length >= MAX_CONFIG_DEPTH) {
      issues.add(path, `is nested more than ${MAX_CONFIG_DEPTH} levels deep`)
      return undefined
    }
    let keys: PathSegment[]
    let copy: Record<string, unknown> | unknown[]
    try {
      if (Array.isArray(item)) {
        keys = Array.from({ length: Math.min(item.length, MAX_CONFIG_VALUES + 1) }, (_, i) => i)
        copy = []
      } else if (isPlainObject(item)) {
        keys = Object.keys(item)
        copy = {}
      } else {
        issues.add(path, `${subject}is ${describe(item)}, not plain data (an object, array, string, number or boolean)`)
        return undefined
      }
    } catch (err) {
      issues.add(path, `${path === '' ? 'reading the config' : 'reading it'} threw: ${messageOf(err)}`)
      return undefined
    }
    open.set(item, path)
    stack.push({ source: item, copy, keys, segments: at, path, next: 0 })
    return copy
  }

  result = visit(value, segments, pathOf(segments))
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame
    if (frame.next >= frame.keys.length) {
      open.delete(frame.source)
      stack.pop()
      continue
    }
    const key = frame.keys[frame.next++] as PathSegment
    const at = [...frame.segments, key]
    const path = joinPath(frame.path, key)
    if (++count > MAX_CONFIG_VALUES) {
      issues.add(pathOf(segments), `${segments.length === 0 ? 'the config ' : ''}holds more than ${MAX_CONFIG_VALUES} values`)
      result = undefined
      break
    }
    let item: unknown
    try {
      item = (frame.source as Record<PathSegment, unknown>)[key]
    } catch (err) {
      issues.add(path, `reading it threw: ${messageOf(err)}`)
      continue
    }
    const copied = visit(item, at, path)
    if (Array.isArray(frame.copy)) {
      frame.copy[key as number] = copied
    } else {
      // A JSON or YAML key "__proto__" is data: define it, never assign it (which would
      // replace the copy's prototype).
      Object.defineProperty(frame.copy, key, { value: copied, enumerable: true, writable: true, configurable: true })
    }
  }
  return issues.items.length > before ? undefined : result
}

function isHookPosition (at: readonly PathSegment[]): boolean {
  return at.length === 4 && at[0] === 'routes' && typeof at[1] === 'number' && at[2] === 'hooks'
}

function isPlainObject (value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function pathOf (segments: readonly PathSegment[]): string {
  return segments.reduce<string>((path, key) => joinPath(path, key), '')
}

function describe (value: object): string {
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object with a prototype'
}
