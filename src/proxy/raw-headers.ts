/** undici's raw header pairs, read into the shapes the gateway edits. */
import { util as undiciUtil } from 'undici'
import type { HeaderMap } from '../routing/header-rules.js'

/** undici's raw header pairs as a header object (names lower-cased, repeats as arrays). */
export function toHeaderMap (raw: readonly Buffer[]): HeaderMap {
  const headers: HeaderMap = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = undiciUtil.headerNameToString(raw[i] as Buffer)
    const value = (raw[i + 1] as Buffer).toString('latin1')
    const existing = headers[name]
    if (existing === undefined) headers[name] = value
    else if (Array.isArray(existing)) existing.push(value)
    else headers[name] = [String(existing), value]
  }
  return headers
}
