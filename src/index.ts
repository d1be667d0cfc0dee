/**
 * Tollgate's public API: the `define*` helpers a config or route module uses (`defineAuth`
 * and `defineHealthCheck` register a custom auth hook or health check when a loaded module
 * exports it), the Gateway for embedding, and the types of the whole config (so an editor
 * completes it).
 */
import type { GatewayFileConfig, RouteFileConfig } from './config/schema.js'
import type { RouteHooks } from './hooks.js'

/** A route as a TypeScript module declares it: the config file's route plus typed hooks. */
export interface RouteDefinition extends RouteFileConfig {
  hooks?: RouteHooks
}

/** The whole config, as `defineGateway` takes it. */
export interface GatewayConfig extends Omit<GatewayFileConfig, 'routes'> {
  routes?: RouteDefinition[]
}

/** Identity helper that types a config module's default export. */
export function defineGateway (config: GatewayConfig): GatewayConfig {
  return config
}

/** Identity helper that types a route module's default export (`routes/*.ts`). */
export function defineRoute<T extends RouteDefinition | RouteDefinition[]> (route: T): T {
  return route
}

export { defineAuth, type AuthHook, type AuthDecision, type AuthDefinition } from './auth/custom.js'
export {
  defineHealthCheck, type HealthCheckFunction, type HealthCheckResult, type HealthCheckTarget, type HealthCheckDefinition
} from './health/define.js'
export type { HealthEvent, HealthState } from './health/notifier.js'
export { Gateway, type GatewayOptions, type ApplyOptions } from './gateway.js'
export { RequestContext } from './context.js'
export type { RouteHooks, UpstreamRequestHeaders } from './hooks.js'
export type { GatewayError } from './errors.js'
export * as errors from './errors.js'
export { ConfigError, type ConfigIssue } from './config/errors.js'
export { loadConfigFile, loadConfigObject } from './config/load.js'
export type { CompiledGateway, CompiledRoute, CompiledUpstream } from './config/compile.js'
export type {
  GatewayFileConfig, RouteFileConfig, UpstreamConfig, ServerConfig, ListenConfig, TargetConfig,
  RetriesConfig, HeaderRulesConfig, RouteMatchConfig, RewriteConfig, AuthConfig, DurationValue, SizeValue,
  HealthCheckConfig, PassiveConfig, NotifyConfig
} from './config/schema.js'
export type { UpstreamSnapshot } from './upstream/upstream.js'
export type { TargetSnapshot, CheckVerdict } from './upstream/target.js'
export { GatewayConfigSchema } from './config/schema.js'
