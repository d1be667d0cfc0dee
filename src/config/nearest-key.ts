/**
 * "Did you mean": the known key closest to a misspelt one, by edit distance, so that
 * `timeout` where `timeouts` is meant is named rather than only refused.
 */

/**
 * The candidate nearest to `key`, or undefined when none is near enough to be a slip:
 * at most one edit in four characters (at least one, at most three), letter case and
 * `-`/`_` separators counting for nothing.
 */
export function nearestKey (key: string, candidates: Iterable<string>): string | undefined {
  const wanted = normalise(key)
  const limit = Math.min(3, Math.max(1, Math.floor(wanted.length / 4)))
  let best: { name: string, distance: number } | undefined
  for (const name of candidates) {
    if (name === key) continue
    const distance = editDistance(wanted, normalise(name))
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name, distance }
  }
  return best?.name
}

function normalise (key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '')
}

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and swaps of
 * two neighbouring characters (the commonest typo) each count one.
 */
export function editDistance (a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[] = new Array<number>(rows * cols).fill(0)
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0
  for (let i = 0; i < rows; i++) d[i * cols] = i
  for (let j = 0; j < cols; j++) d[j] = j
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1)
      d[i * cols + j] = value
    }
  }
  return at(a.length, b.length)
}
