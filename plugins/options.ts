import type { Dispatcher } from 'undici'
import type { CompiledGateway } from '../src/config/compile.js'
import type { Upstream } from '../src/upstream/upstream.js'
import type { CounterStoreSet } from '../src/stores/counter-stores.js'
import type { CompiledRoute } from '../src/config/compile.js'
import type { RouteCache } from '../src/cache/route-cache.js'
import type { WebSocketTunnels } from '../src/websocket/tunnels.js'

/** What every gateway plugin is registered with: one app version's world. */
export interface GatewayPluginOptions {
  readonly config: CompiledGateway
  /** The live upstreams this app version proxies to. */
  readonly upstreams: ReadonlyMap<string, Upstream>
  /** Dispatcher for transparent routes. */
  readonly transparentDispatcher: Dispatcher
  /** Rate-limit counts, kept by the Gateway across reloads. */
  readonly counterStores: CounterStoreSet
  /** The HTTP cache's side of each route with `cache`. */
  readonly caches: ReadonlyMap<CompiledRoute, RouteCache>
  /** Open WebSocket tunnels, kept by the Gateway across reloads. */
  readonly tunnels: WebSocketTunnels
}
