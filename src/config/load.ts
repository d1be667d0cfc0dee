/**
 * Loading: file (YAML, JSON, or a TypeScript/JavaScript module exporting `defineGateway`)
 * → routes from `routes/*.ts` → copied into plain data (no loops, getters or runaway
 * nesting) → `.env` and `${NAME}` → schema → compile. The result is a frozen
 * CompiledGateway or a ConfigError listing every problem as `path: message`. Nothing is
 * applied here: the caller decides whether to swap the running config.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseDocument } from 'yaml'
import { ConfigError, IssueList, joinPath, messageOf, type ConfigIssue } from './errors.js'
import { readDotEnv, substituteEnv, type Environment } from './env.js'
import { validateSchema } from './validate.js'
import { compileGateway, type CompiledGateway, type CompileOptions } from './compile.js'
import { readableParts } from './readable-parts.js'
import { makeTollgateImportable } from './self-package.js'
import { MAX_CONFIG_VALUES, toPlainData } from './plain-data.js'
import type { RouteHooks } from '../hooks.js'
import { AuthRegistry, isAuthDefinition, type AuthDefinition } from '../auth/custom.js'
import { HealthCheckRegistry, isHealthCheckDefinition, type HealthCheckDefinition } from '../health/define.js'

export interface LoadOptions {
  /** Folder of TypeScript routes; default `routes/` beside the config file when it exists. */
  readonly routesDir?: string
  /** The environment for `${NAME}`; default process.env plus `.env` beside the config. */
  readonly env?: Environment
}

export interface LoadedConfig {
  readonly compiled: CompiledGateway
  /** Absolute path of the file read, or null for a config given as an object. */
  readonly file: string | null
}

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'])

/** Reads and compiles a config file. Throws ConfigError. */
export async function loadConfigFile (file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const full = resolve(file)
  const baseDir = dirname(full)
  const registered = new RegisteredExports()
  const raw = await readConfigFile(full, registered)
  const routesDir = options.routesDir ?? join(baseDir, 'routes')
  const extraRoutes = await loadRouteModules(routesDir, options.routesDir !== undefined, registered)
  registered.throwIfAny()
  const env = options.env ?? withDotEnv(baseDir)
  return { compiled: buildConfig(raw, { baseDir, env, extraRoutes, auth: registered.auth, healthChecks: registered.healthChecks }), file: full }
}

/**
 * Compiles a config given as an object (`Gateway.apply`, the admin API). Hooks on its
 * routes are kept; `${NAME}` references are resolved against `env`. `auth` and
 * `healthChecks` list the `defineAuth` hooks and `defineHealthCheck` checks its routes and
 * upstreams name (a file's modules register theirs by exporting them).
 */
export function loadConfigObject (raw: unknown, options: { baseDir?: string, env?: Environment, auth?: Iterable<AuthDefinition>, healthChecks?: Iterable<HealthCheckDefinition> } = {}): LoadedConfig {
  const baseDir = options.baseDir ?? process.cwd()
  const registered = new RegisteredExports()
  for (const definition of options.auth ?? []) registered.add(definition, 'the auth option')
  for (const definition of options.healthChecks ?? []) registered.add(definition, 'the healthChecks option')
  registered.throwIfAny()
  return { compiled: buildConfig(raw, { baseDir, env: options.env ?? process.env, extraRoutes: [], auth: registered.auth, healthChecks: registered.healthChecks }), file: null }
}

/**
 * What the modules of one load register by their named exports: `defineAuth` hooks and
 * `defineHealthCheck` checks. Made per load, so that a reload (which imports the modules
 * afresh) sees edited definitions, and one removed from its module is gone.
 */
class RegisteredExports {
  readonly auth = new AuthRegistry()
  readonly healthChecks = new HealthCheckRegistry()
  private readonly issues = new IssueList()

  add (definition: AuthDefinition | HealthCheckDefinition, from: string): void {
    const problem = isAuthDefinition(definition) ? this.auth.add(definition, from) : this.healthChecks.add(definition, from)
    if (problem !== null) this.issues.add('', `${from}: ${problem}`)
  }

  /** Registers the module's named exports that are definitions; returns how many it had. */
  fromModule (mod: Record<string, unknown>, file: string): number {
    let count = 0
    try {
      for (const value of namedExports(mod)) {
        if (!isAuthDefinition(value) && !isHealthCheckDefinition(value)) continue
        this.add(value, basename(file))
        count++
      }
    } catch (err) {
      this.issues.add('', `${basename(file)}: reading its exports threw: ${messageOf(err)}`)
    }
    return count
  }

  throwIfAny (): void {
    this.issues.throwIfAny()
  }
}

/**
 * A module's named exports. A `.ts` file tsx compiles to CommonJS also holds every export
 * on its `module.exports`, which ESM hands over as `default` (marked `__esModule`).
 */
function namedExports (mod: Record<string, unknown>): unknown[] {
  const values: unknown[] = []
  for (const key of Object.keys(mod)) if (key !== 'default') values.push(mod[key])
  const commonjs = mod.default
  if (isCompiledCommonJs(commonjs)) {
    for (const key of Object.keys(commonjs)) if (key !== 'default') values.push(commonjs[key])
  }
  return values
}

function isCompiledCommonJs (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && (value as { __esModule?: unknown }).__esModule === true
}

interface RouteModuleEntry {
  /** The module's default export: a route or an array of routes, not read yet. */
  readonly exported: unknown
  readonly file: string
}

function buildConfig (raw: unknown, options: { baseDir: string, env: Environment, extraRoutes: readonly RouteModuleEntry[], auth: AuthRegistry, healthChecks: HealthCheckRegistry }): CompiledGateway {
  const issues = new IssueList()
  const notAnObject = new ConfigError([{ path: '', message: 'the config must be an object (a mapping at the top of the file)' }])
  if (raw === null || typeof raw !== 'object') throw notAnObject
  const plain = toPlainData(raw, [], issues)
  issues.throwIfAny()
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) throw notAnObject
  const config = plain as Record<string, unknown>
  const origins = new Map<number, string>()
  if (options.extraRoutes.length > 0) {
    const routes = Array.isArray(config.routes) ? config.routes as unknown[] : []
    for (const entry of options.extraRoutes) {
      for (const route of routesOf(entry, issues)) {
        origins.set(routes.length, entry.file)
        routes.push(toPlainData(route, ['routes', routes.length], issues))
      }
    }
    config.routes = routes
    if (issues.items.length > 0) throw new ConfigError(withOrigins(issues.items, origins))
  }
  const hooks = extractHooks(config, issues)
  const substituted = substituteEnv(config, options.env, issues)
  const valid = validateSchema(substituted, issues)
  const compileOptions = { baseDir: options.baseDir, hooks, auth: options.auth, healthChecks: options.healthChecks }
  if (!valid || issues.items.length > 0) {
    throw new ConfigError(withOrigins([...issues.items, ...referenceIssues(substituted, issues.items, compileOptions)], origins))
  }
  try {
    return compileGateway(substituted, compileOptions)
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(withOrigins(err.issues, origins))
    throw err
  }
}

/**
 * What compile finds in the parts of a refused config that passed the schema (a route
 * naming a missing upstream, a bad CIDR), so that they are reported in the same run.
 */
function referenceIssues (config: unknown, refused: readonly ConfigIssue[], options: CompileOptions): ConfigIssue[] {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return []
  const parts = readableParts(config as Record<string, unknown>, refused)
  if (parts === null) return []
  try {
    compileGateway(parts.config, options)
    return []
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return err.issues.filter(issue => !parts.isAboutStandIn(issue))
  }
}

/** A route module's routes (its export is one or an array), each read once. */
function routesOf (entry: RouteModuleEntry, issues: IssueList): unknown[] {
  const exported = entry.exported
  try {
    if (!Array.isArray(exported)) return [exported]
    return Array.from({ length: Math.min(exported.length, MAX_CONFIG_VALUES) }, (_, i): unknown => exported[i])
  } catch (err) {
    issues.add('', `${basename(entry.file)}: reading its default export threw: ${messageOf(err)}`)
    return []
  }
}

/** Route hooks are functions: they are taken out before validation and handed to compile. */
function extractHooks (config: Record<string, unknown>, issues: IssueList): Map<number, RouteHooks> {
  const hooks = new Map<number, RouteHooks>()
  if (!Array.isArray(config.routes)) return hooks
  config.routes = (config.routes as unknown[]).map((route, index) => {
    if (route === null || typeof route !== 'object' || !('hooks' in route)) return route
    const { hooks: routeHooks, ...rest } = route as { hooks: unknown }
    const path = joinPath(joinPath('routes', index), 'hooks')
    if (routeHooks === undefined) return rest
    if (routeHooks === null || typeof routeHooks !== 'object') {
      issues.add(path, 'must be an object of hook functions')
      return rest
    }
    for (const [name, fn] of Object.entries(routeHooks)) {
      if (!HOOK_NAMES.has(name)) issues.add(joinPath(path, name), `unknown hook (expected one of ${[...HOOK_NAMES].join(', ')})`)
      else if (typeof fn !== 'function') issues.add(joinPath(path, name), 'must be a function')
    }
    hooks.set(index, routeHooks as RouteHooks)
    return rest
  })
  return hooks
}

const HOOK_NAMES: ReadonlySet<string> = new Set(['onRequest', 'upstreamRequest', 'upstreamResponse', 'onError', 'onResponse'])

function withOrigins (items: readonly { path: string, message: string }[], origins: ReadonlyMap<number, string>): { path: string, message: string }[] {
  if (origins.size === 0) return [...items]
  return items.map(item => {
    const m = /^routes\[(\d+)\]/.exec(item.path)
    const file = m === null ? undefined : origins.get(Number(m[1]))
    return file === undefined ? item : { path: `${basename(file)}: ${item.path}`, message: item.message }
  })
}

async function readConfigFile (file: string, registered: RegisteredExports): Promise<unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }])
  }
  const ext = extname(file).toLowerCase()
  if (ext === '.json') {
    try {
      return JSON.parse(text)
    } catch (err) {
      throw new ConfigError([{ path: '', message: `${basename(file)} is not valid JSON: ${messageOf(err)}` }])
    }
  }
  if (MODULE_EXTENSIONS.has(ext)) {
    const mod = await importModule(file)
    registered.fromModule(mod, file)
    return defaultExport(mod, file, false)
  }
  try {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
    if (doc.errors.length > 0) {
      throw new ConfigError(doc.errors.map(e => {
        const at = e.linePos?.[0]
        const where = at === undefined ? basename(file) : `${basename(file)}:${at.line}:${at.col}`
        const text = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '')
        // The parser recurses, and reports its own stack overflow as a syntax error.
        return { path: '', message: `${where}: ${text.startsWith('Maximum call stack size exceeded') ? 'nested too deeply to read' : text}` }
      }))
    }
    return doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    // Whatever else the parser throws (it recurses) is still a refused file, not a crash.
    if (err instanceof ConfigError) throw err
    throw new ConfigError([{ path: '', message: `${basename(file)} cannot be read as YAML: ${messageOf(err)}` }], { cause: err })
  }
}

/**
 * Loads `routes/*.{ts,js}`: each default export is a route or an array of routes; named
 * `defineAuth` and `defineHealthCheck` exports are registered (a module may hold only those).
 */
async function loadRouteModules (dir: string, required: boolean, registered: RegisteredExports): Promise<RouteModuleEntry[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    if (required) throw new ConfigError([{ path: '', message: `routes folder ${dir} does not exist` }])
    return []
  }
  const files = readdirSync(dir)
    .filter(name => MODULE_EXTENSIONS.has(extname(name)) && !name.endsWith('.d.ts') && !name.startsWith('.'))
    .sort()
  const entries: RouteModuleEntry[] = []
  for (const name of files) {
    const file = join(dir, name)
    const mod = await importModule(file)
    const definitions = registered.fromModule(mod, file)
    const exported = defaultExport(mod, file, definitions > 0)
    if (exported !== undefined) entries.push({ exported, file })
  }
  return entries
}

/** Bumped per load: a reload must see edited modules, and ESM caches by URL. */
let loadGeneration = 0

async function importModule (file: string): Promise<Record<string, unknown>> {
  try {
    await makeTollgateImportable()
    const url = `${pathToFileURL(file).href}?load=${++loadGeneration}`
    const ext = extname(file)
    if (ext === '.ts' || ext === '.mts' || ext === '.cts') {
      // tsx compiles the user's TypeScript on the fly, so a config or route needs no build step.
      const { tsImport } = await import('tsx/esm/api')
      return await tsImport(url, import.meta.url) as Record<string, unknown>
    }
    return await import(url) as Record<string, unknown>
  } catch (err) {
    // A module's error may span lines (a compile error, a require stack): the first says what.
    throw new ConfigError([{ path: '', message: `${basename(file)}: ${messageOf(err)}` }], { cause: err })
  }
}

/** The module's default export; undefined when it has none and `optional`. */
function defaultExport (mod: Record<string, unknown>, file: string, optional: boolean): unknown {
  let value: unknown
  try {
    value = mod.default
    // A CommonJS or tsx-wrapped module may nest the default export once more.
    if (isCompiledCommonJs(value)) {
      value = value.default
    } else if (value !== null && typeof value === 'object' && 'default' in value && Object.keys(value).length === 1) {
      value = (value as { default: unknown }).default
    }
  } catch (err) {
    throw new ConfigError([{ path: '', message: `${basename(file)}: reading its default export threw: ${messageOf(err)}` }], { cause: err })
  }
  if (value === undefined && !optional) throw new ConfigError([{ path: '', message: `${basename(file)} has no default export` }])
  return value
}

function withDotEnv (baseDir: string): Environment {
  const merged = readDotEnv(join(baseDir, '.env'))
  return resolve(baseDir) === resolve(process.cwd()) ? merged : readDotEnv(join(process.cwd(), '.env'), merged)
}
