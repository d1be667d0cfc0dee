import type { AdminApi } from '../../src/admin/api.js'
import type { AdminToken } from '../../src/admin/token.js'

/** What every admin plugin is registered with. */
export interface AdminPluginOptions {
  readonly api: AdminApi
  /** The token requests must carry, read per request: a reload may change it. null: none. */
  readonly token: () => AdminToken | null
}
