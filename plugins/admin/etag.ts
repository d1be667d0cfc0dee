/**
 * ETags and 304s on the admin API's replies, with @fastify/caching for `cache-control` and
 * `reply.etag()`. Its own 304 is switched off: it answers any If-None-Match found in one
 * set of every ETag it ever gave out, for any URL, without running the handler, so a
 * client holding `GET /config`'s tag from before a `PUT /config` would be told nothing
 * changed. Here the tag is the hash of the body about to be sent, compared with the
 * request's on every request.
 */
import fp from 'fastify-plugin'
import fastifyCaching, { type AbstractCacheCompliantObject } from '@fastify/caching'
import type { FastifyInstance } from 'fastify'
import { revalidate } from '../../src/admin/etag.js'

type CacheKey = string | { id: string, segment: string }

/**
 * An ETag store that remembers nothing: @fastify/caching's lookup never finds a tag to
 * answer 304 for. Its store hook runs before the hook below sets the tag, so it would
 * store none anyway; this store keeps it so whatever order the hooks end up in.
 */
class NoEtagStore implements AbstractCacheCompliantObject {
  get (key: CacheKey, callback: (error: unknown, result: null) => void): void
  get (key: CacheKey): Promise<null>
  get (_key: CacheKey, callback?: (error: unknown, result: null) => void): void | Promise<null> {
    if (callback === undefined) return Promise.resolve(null)
    callback(null, null)
  }

  set (_key: CacheKey, _value: unknown, _timeToLive: number, callback?: (error: unknown, result: unknown) => void): void {
    callback?.(null, undefined)
  }
}

async function adminEtag (app: FastifyInstance): Promise<void> {
  // no-cache: a client may keep a reply but asks again each time, so a change is seen at once.
  // Registered first, its onSend hook writes cache-control while the status is still 200.
  await app.register(fastifyCaching, { privacy: fastifyCaching.privacy.NOCACHE, cache: new NoEtagStore() })
  app.addHook('onSend', async (request, reply, payload) => {
    const found = revalidate(request.method, reply.statusCode, payload, request.headers['if-none-match'])
    if (found === null) return payload
    reply.etag(found.etag)
    if (!found.notModified) return payload
    // A 304 keeps etag and cache-control and drops what describes the body it leaves out.
    reply.code(304).removeHeader('content-type')
    // HEAD: Fastify's own HEAD hook, after this one, drops the body and sets content-length
    // from it: the length a 200 would announce, which RFC 9110 §8.6 allows on a 304.
    return request.method === 'HEAD' ? payload : null
  })
}

export default fp(adminEtag, { name: 'tollgate-admin-etag', fastify: '5.x', dependencies: ['tollgate-admin-errors'] })
