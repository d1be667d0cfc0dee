/**
 * The route hooks a TypeScript route may declare: Pingora's filter phases, typed. Each
 * runs at the Fastify point named in its comment; `ctx` is the request's RequestContext,
 * shared by all hooks of one request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RequestContext } from './context.js'
import type { GatewayError } from './errors.js'

export type UpstreamRequestHeaders = Record<string, string | string[] | undefined>

export interface RouteHooks {
  /**
   * request_filter (Fastify onRequest, after the gateway's own checks). May answer early
   * with `reply.send(...)`; throwing a typed error ends the request with that error.
   */
  onRequest? (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void | Promise<void>
  /**
   * upstream_request_filter (reply-from rewriteRequestHeaders): edit the headers sent
   * upstream, in place. Synchronous: it runs once per attempt, retries included.
   */
  upstreamRequest? (request: FastifyRequest, headers: UpstreamRequestHeaders, ctx: RequestContext): void
  /**
   * response_filter (reply-from onResponse): the upstream's status and headers are on
   * `reply`; change them before the body streams to the client.
   */
  upstreamResponse? (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void | Promise<void>
  /**
   * fail_to_proxy: the request failed with `error` (a typed gateway error). Send a reply to
   * replace the contract's JSON error; return without sending to keep it.
   */
  onError? (request: FastifyRequest, reply: FastifyReply, error: GatewayError, ctx: RequestContext): void | Promise<void>
  /** logging (Fastify onResponse): the response has been sent. Errors thrown here are logged. */
  onResponse? (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void | Promise<void>
}
