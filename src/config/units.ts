/**
 * Durations and sizes as the config writes them. Parsed once, at load; the hot path only
 * ever sees milliseconds and bytes.
 */
import type { DurationValue, SizeValue } from './schema.js'

/**
 * The longest delay a Node timer can wait: 2^31 − 1 ms. A longer one is not an error to
 * Node: it warns and fires after 1 ms, so `gracefulShutdown: 600h` would cut requests at
 * once and `timeouts.response: 600h` would time out every request.
 */
export const MAX_DURATION_MS = 2_147_483_647
export const MAX_DURATION_TEXT = `${MAX_DURATION_MS} ms (about 24.8 days), the longest a Node timer can wait`

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/
const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)\s*$/i

/**
 * "500ms" | "2s" | "1m" | "1h" | milliseconds → milliseconds. Throws on anything else, and
 * on a duration longer than MAX_DURATION_MS.
 */
export function parseDuration (value: DurationValue): number {
  let ms = value
  if (typeof value === 'string') {
    const m = DURATION.exec(value)
    if (m === null) throw new Error(`"${value}" is not a duration (500ms, 2s, 1m, 1h)`)
    ms = Math.round(Number(m[1]) * (DURATION_UNITS[m[2] as string] as number))
  }
  if (typeof ms !== 'number' || !(ms <= MAX_DURATION_MS)) {
    throw new Error(`${JSON.stringify(value)} is longer than ${MAX_DURATION_TEXT}`)
  }
  return ms
}

/** "100b" | "64kb" | "10mb" | "1gb" | bytes → bytes. Throws on anything else. */
export function parseSize (value: SizeValue): number {
  if (typeof value === 'number') return value
  const m = SIZE.exec(value)
  if (m === null) throw new Error(`"${value}" is not a size (100b, 64kb, 10mb)`)
  return Math.round(Number(m[1]) * (SIZE_UNITS[(m[2] as string).toLowerCase()] as number))
}

/** Milliseconds → the shortest exact config spelling, for messages ("100ms", "30s"). */
export function formatDuration (ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`
  return `${ms}ms`
}
