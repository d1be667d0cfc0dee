/**
 * The keys that belong to one gateway instance rather than to the cluster: where it
 * listens, how many processes it runs, its pid and log files, and how it reaches Redis.
 * A config shared through Redis (applied on another instance's admin API) takes every
 * other key; these keep the values of this instance's own config. So two instances on one
 * host, on different ports, can share one config, and an instance never moves its
 * listeners to another's addresses.
 */

interface InstanceKey {
  readonly path: readonly [string] | readonly [string, string]
  /**
   * For a key inside an optional section (`admin.listen`): when the shared config leaves
   * the section out, it stays out (the cluster has no admin API), whatever this instance had.
   */
  readonly onlyWithSection: boolean
}

export const INSTANCE_KEYS: readonly InstanceKey[] = [
  { path: ['server', 'listen'], onlyWithSection: false },
  { path: ['server', 'workers'], onlyWithSection: false },
  { path: ['server', 'daemon'], onlyWithSection: false },
  { path: ['server', 'pidFile'], onlyWithSection: false },
  { path: ['server', 'logFile'], onlyWithSection: false },
  { path: ['admin', 'listen'], onlyWithSection: true },
  { path: ['redis'], onlyWithSection: false }
]

/** The dotted names of INSTANCE_KEYS, for logs and docs. */
export const INSTANCE_KEY_NAMES: readonly string[] = INSTANCE_KEYS.map(key => key.path.join('.'))

type ConfigObject = Record<string, unknown>

/**
 * A copy of `shared` whose instance keys hold `own`'s values: set where `own` sets them,
 * absent (the default) where `own` leaves them out. Neither argument is changed.
 */
export function withInstanceKeys (shared: ConfigObject, own: ConfigObject): ConfigObject {
  const result = structuredClone(shared)
  for (const { path, onlyWithSection } of INSTANCE_KEYS) {
    if (path.length === 1) {
      setOrDelete(result, path[0], own[path[0]])
      continue
    }
    const [section, key] = path
    const ownSection = objectAt(own, section)
    let target = objectAt(result, section)
    if (target === undefined) {
      // A section the shared config sets to something else than an object is left for
      // the schema to refuse.
      if (onlyWithSection || Object.hasOwn(result, section) || ownSection?.[key] === undefined) continue
      target = {}
      result[section] = target
    }
    setOrDelete(target, key, ownSection?.[key])
  }
  return result
}

function setOrDelete (object: ConfigObject, key: string, value: unknown): void {
  if (value === undefined) {
    delete object[key]
  } else {
    object[key] = structuredClone(value)
  }
}

function objectAt (object: ConfigObject, key: string): ConfigObject | undefined {
  const value = Object.hasOwn(object, key) ? object[key] : undefined
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as ConfigObject : undefined
}
