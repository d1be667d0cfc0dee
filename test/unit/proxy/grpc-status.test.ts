import { test } from 'node:test'
import assert from 'node:assert/strict'
import { grpcStatusOf, GrpcStatus } from '../../../src/proxy/grpc-status.js'
import { toGatewayError, classifyFailure, H2StreamResetError } from '../../../src/upstream/errors.js'
import { NoHealthyUpstream, RateLimited, RouteNotFound, Unauthorized, type GatewayError } from '../../../src/errors.js'
import { errors as undiciErrors } from 'undici'

const context = { upstream: 'u', target: '127.0.0.1:1', connectMs: 100, responseMs: 100 }
const fromFailure = (err: Error): GatewayError => toGatewayError(err, classifyFailure(err), context)

test('an upstream timeout is DEADLINE_EXCEEDED; a refused connection and no target are UNAVAILABLE', () => {
  assert.equal(grpcStatusOf(fromFailure(new undiciErrors.HeadersTimeoutError())), GrpcStatus.DEADLINE_EXCEEDED)
  assert.equal(grpcStatusOf(fromFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))), GrpcStatus.UNAVAILABLE)
  assert.equal(grpcStatusOf(new NoHealthyUpstream() as GatewayError), GrpcStatus.UNAVAILABLE)
})

test('an upstream stream reset maps by its RST_STREAM code', () => {
  assert.equal(grpcStatusOf(fromFailure(new H2StreamResetError(7))), GrpcStatus.UNAVAILABLE)
  assert.equal(grpcStatusOf(fromFailure(new H2StreamResetError(8))), GrpcStatus.CANCELLED)
  assert.equal(grpcStatusOf(fromFailure(new H2StreamResetError(11))), GrpcStatus.RESOURCE_EXHAUSTED)
  assert.equal(grpcStatusOf(fromFailure(new H2StreamResetError(2))), GrpcStatus.INTERNAL)
})

test('refusals of the gateway itself map as gRPC maps their HTTP statuses', () => {
  assert.equal(grpcStatusOf(new Unauthorized('no') as GatewayError), GrpcStatus.UNAUTHENTICATED)
  assert.equal(grpcStatusOf(new RateLimited() as GatewayError), GrpcStatus.UNAVAILABLE)
  assert.equal(grpcStatusOf(new RouteNotFound('POST', '/x') as GatewayError), GrpcStatus.UNIMPLEMENTED)
})
