/**
 * What an http check's body must hold (`healthCheck.expectBody`): a substring, or a match
 * of `"/regex/flags"`. Regexes are checked the way route regexes are, at load: the body
 * is matched on the event loop at every check.
 */
import { refuseSlowRegex } from '../routing/matcher.js'

export type BodyMatch =
  | { readonly kind: 'text', readonly text: string }
  | { readonly kind: 'regex', readonly regex: RegExp }

/** `"/ready\\s+ok/i"` is a regex; anything else a substring. Throws what is wrong with it. */
export function compileBodyMatch (text: string): BodyMatch {
  const literal = /^\/(.+)\/([a-z]*)$/s.exec(text)
  if (literal === null) return { kind: 'text', text }
  const [, source = '', flags = ''] = literal
  // g and y make `test` remember where it stopped: the next check would start there.
  if (/[gy]/.test(flags)) throw new Error(`flag ${flags.includes('g') ? 'g' : 'y'} makes no sense for a body check`)
  let regex: RegExp
  try {
    regex = new RegExp(source, flags)
  } catch (err) {
    throw new Error(`invalid regex "${source}": ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`)
  }
  refuseSlowRegex(source)
  return { kind: 'regex', regex }
}

export function bodyMatches (body: string, match: BodyMatch): boolean {
  return match.kind === 'text' ? body.includes(match.text) : match.regex.test(body)
}
