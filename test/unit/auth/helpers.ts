/** What the auth unit tests share: a request with headers, a context to fill, the error thrown. */
import assert from 'node:assert/strict'
import type { FastifyRequest } from 'fastify'
import type { AuthTarget, Authenticator } from '../../../src/auth/authenticator.js'
import type { GatewayError } from '../../../src/errors.js'

export function requestWith (authorization?: string, headers: Record<string, string> = {}): FastifyRequest {
  return { headers: { ...headers, ...(authorization === undefined ? {} : { authorization }) } } as unknown as FastifyRequest
}

export function target (): AuthTarget {
  return { principal: null, upstreamHeaders: null }
}

/** Runs `authenticate`, sync or async; resolves with the context it filled. */
export async function allowed (authenticator: Authenticator, request: FastifyRequest): Promise<AuthTarget> {
  const ctx = target()
  await authenticator.authenticate(request, ctx)
  return ctx
}

/** The typed error `authenticate` refuses with (thrown or rejected); fails the test when it allows. */
export async function refused (authenticator: Authenticator, request: FastifyRequest): Promise<GatewayError> {
  const ctx = target()
  try {
    await authenticator.authenticate(request, ctx)
  } catch (err) {
    return err as GatewayError
  }
  assert.fail(`the request was allowed (principal ${JSON.stringify(ctx.principal)})`)
}
