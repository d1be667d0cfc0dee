/**
 * Config and route modules import Tollgate by name (`import { defineRoute } from 'tollgate'`)
 * wherever they live: in a container the config and `routes/` are mounted in /etc, far
 * from any node_modules holding Tollgate. This makes the name resolve, in every module the
 * process loads, to the running gateway's own package instance, so that what a module
 * registers through it (hooks, and later `defineAuth`) lands in the running gateway and
 * `instanceof` checks against its classes hold.
 *
 * Why not simply resolve the name to our entry file: route modules are loaded through
 * tsx's `tsImport`, which gives every load its own namespace (so a reload sees edited
 * files) by adding a query to every URL imported beneath it. Our entry file under such a
 * URL would be a second copy of the whole package. So `tollgate` resolves to a small
 * facade module whose exports are read from the running instance, kept under a
 * process-wide symbol: however many copies of the facade namespaces create, they all hand
 * out the same objects.
 *
 * Two resolvers are needed on Node 20:
 * - ESM `import`: a resolve hook given to `module.register()` (public, Node ≥ 20.6).
 * - CommonJS `require`: tsx compiles a `.ts` file in a folder without `"type": "module"`
 *   to CommonJS, and Node 20's `module.register()` hooks never see `require()` (the
 *   synchronous `module.registerHooks()` that would is Node ≥ 22.15). The only way on
 *   Node 20 is to wrap `Module._load`, as tsx itself wraps `Module._resolveFilename`;
 *   `_load` is wrapped rather than the resolver so that `require('tollgate')` returns the
 *   running instance itself, with no file to load and nothing for a namespace to copy.
 */
import Module, { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const PACKAGE_NAME = 'tollgate'
/** Where the facade finds the running instance's exports. */
const RUNNING_PACKAGE = Symbol.for('tollgate.running-package')

let installing: Promise<void> | undefined

/** Idempotent: installs the resolvers once per process, before the first module is loaded. */
export async function makeTollgateImportable (): Promise<void> {
  installing ??= install()
  await installing
}

async function install (): Promise<void> {
  // Imported here rather than at the top: index.ts imports this folder, and by the time a
  // config module is loaded every module of the package has been evaluated.
  const api = await import('../index.js') as Readonly<Record<string, unknown>>
  ;(globalThis as Record<symbol, unknown>)[RUNNING_PACKAGE] = api
  const packageJson = findOwnPackageJson()
  Module.register(hookModuleUrl(), {
    parentURL: import.meta.url,
    data: { facade: facadeModuleUrl(Object.keys(api)), packageJson: pathToFileURL(packageJson).href }
  })
  wrapRequire(api, createRequire(packageJson))
}

/** The package.json naming this package, found upwards from this file (src/ or dist/src/). */
function findOwnPackageJson (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  // Bounded by the depth of the path: dirname of the root is the root.
  for (;;) {
    const candidate = join(dir, 'package.json')
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package.json above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}

function facadeModuleUrl (names: readonly string[]): string {
  const lines = [`const api = globalThis[Symbol.for(${JSON.stringify(RUNNING_PACKAGE.description)})];`]
  for (const name of names) {
    if (/^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default') lines.push(`export const ${name} = api[${JSON.stringify(name)}];`)
  }
  return `data:text/javascript,${encodeURIComponent(lines.join('\n'))}`
}

/**
 * The ESM resolve hook, as a module of its own (hooks run on the loader's thread). A
 * data: URL, so that it is the same whether the package runs from dist/ or, through tsx,
 * from its TypeScript sources.
 */
function hookModuleUrl (): string {
  const source = `
let facade
let packageJson
export async function initialize (data) {
  facade = data.facade
  packageJson = data.packageJson
}
export async function resolve (specifier, context, nextResolve) {
  if (specifier === ${JSON.stringify(PACKAGE_NAME)}) return { url: facade, format: 'module', shortCircuit: true }
  // Subpaths the package exports resolve as from inside the package (a self-reference).
  if (specifier.startsWith(${JSON.stringify(PACKAGE_NAME + '/')})) return nextResolve(specifier, { ...context, parentURL: packageJson })
  return nextResolve(specifier, context)
}
`
  return `data:text/javascript,${encodeURIComponent(source)}`
}

type LoadFunction = (this: unknown, request: string, parent: unknown, isMain: boolean) => unknown

function wrapRequire (api: Readonly<Record<string, unknown>>, selfRequire: NodeJS.Require): void {
  const loader = Module as unknown as { _load: LoadFunction }
  const load = loader._load
  loader._load = function (request, parent, isMain) {
    if (request === PACKAGE_NAME) return api
    if (request.startsWith(`${PACKAGE_NAME}/`)) return load.call(this, selfRequire.resolve(request), parent, isMain)
    return load.call(this, request, parent, isMain)
  }
}
