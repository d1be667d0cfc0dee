/** Reads one cookie from a Cookie header without building a map of all of them. */
export function readCookie (header: string | string[] | undefined, name: string): string | null {
  const text = Array.isArray(header) ? header.join('; ') : header
  if (text === undefined) return null
  let from = 0
  while (from < text.length) {
    const at = text.indexOf(name, from)
    if (at < 0) return null
    const before = at === 0 ? ';' : text[at - 1]
    const afterName = at + name.length
    if ((before === ';' || before === ' ') && text[afterName] === '=') {
      const end = text.indexOf(';', afterName + 1)
      return text.slice(afterName + 1, end < 0 ? text.length : end).trim()
    }
    from = afterName
  }
  return null
}
