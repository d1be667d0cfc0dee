/**
 * Reads a Dockerfile into stages and instructions, as far as the deploy tests need: line
 * continuations joined, comments and parser directives dropped, exec-form arguments
 * (JSON arrays) parsed. No build happens here: this machine has no container runtime.
 */
import { readFileSync } from 'node:fs'

export interface Instruction {
  readonly keyword: string
  /** The text after the keyword, continuations joined. */
  readonly args: string
  readonly line: number
}

export interface Stage {
  readonly name: string | null
  readonly from: string
  readonly instructions: readonly Instruction[]
}

export function readDockerfile (file: string): Stage[] {
  const stages: { name: string | null, from: string, instructions: Instruction[] }[] = []
  const lines = readFileSync(file, 'utf8').split('\n')
  let pending = ''
  let startLine = 0
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] as string
    if (pending === '' && /^\s*(#|$)/.test(text)) continue
    // A comment inside a continued instruction is skipped too (Docker does the same).
    if (pending !== '' && /^\s*#/.test(text)) continue
    if (pending === '') startLine = i + 1
    const continued = /\\\s*$/.test(text)
    pending += (pending === '' ? '' : ' ') + text.replace(/\\\s*$/, '').trim()
    if (continued) continue
    const match = /^(\S+)\s*(.*)$/.exec(pending) as RegExpExecArray
    const keyword = (match[1] as string).toUpperCase()
    const args = match[2] as string
    pending = ''
    if (keyword === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) as RegExpExecArray
      stages.push({ from: from[1] as string, name: from[2] ?? null, instructions: [] })
      continue
    }
    const stage = stages.at(-1)
    if (stage === undefined) throw new Error(`${file}:${startLine}: ${keyword} before any FROM`)
    stage.instructions.push({ keyword, args, line: startLine })
  }
  return stages
}

/** An exec-form argument list (`["node", "x.js"]`); throws on the shell form. */
export function execForm (instruction: Instruction | undefined, options: { after?: RegExp } = {}): string[] {
  if (instruction === undefined) throw new Error('no such instruction')
  const text = options.after === undefined ? instruction.args : instruction.args.replace(options.after, '')
  const parsed = JSON.parse(text) as unknown
  if (!Array.isArray(parsed) || !parsed.every(item => typeof item === 'string')) throw new Error(`line ${instruction.line}: not an exec-form list: ${instruction.args}`)
  return parsed
}

/** COPY/ADD sources and destination, with `--from=` and other flags apart. */
export function copyOf (instruction: Instruction): { from: string | null, sources: string[], destination: string } {
  const words = instruction.args.split(/\s+/)
  const flags = words.filter(word => word.startsWith('--'))
  const paths = words.filter(word => !word.startsWith('--'))
  const from = flags.find(flag => flag.startsWith('--from='))?.slice('--from='.length) ?? null
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1) as string }
}
