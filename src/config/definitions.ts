/**
 * What a config's modules register by exporting a `define*` result (`defineAuth`,
 * `defineHealthCheck`): one registry per kind and per load, so that a reload, which
 * imports the modules afresh, sees edited definitions and forgets removed ones.
 */
export class DefinitionRegistry<D extends { readonly name: string }> {
  private readonly byName = new Map<string, { readonly definition: D, readonly from: string }>()
  /** The helper that makes these definitions, for messages: `defineAuth`. */
  private readonly helper: string

  constructor (helper: string) {
    this.helper = helper
  }

  /**
   * Registers `definition`, exported by `from` (a file name); returns why it cannot be (a
   * different definition of the same name came first), or null. The same definition
   * exported twice (a module re-exporting another's) is one.
   */
  add (definition: D, from: string): string | null {
    const existing = this.byName.get(definition.name)
    if (existing !== undefined && existing.definition !== definition) {
      return `${this.helper}("${definition.name}") is also exported by ${existing.from}: each name must be defined once`
    }
    if (existing === undefined) this.byName.set(definition.name, { definition, from })
    return null
  }

  definition (name: string): D | undefined {
    return this.byName.get(name)?.definition
  }

  get names (): string[] {
    return [...this.byName.keys()]
  }
}
