import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GrpcStatus, grpcMessage, grpcStatusOf, grpcTimeoutMs, isGrpcRequest } from '../../../src/proxy/grpc.js'

test('gRPC requests are told by their content type', () => {
  assert.equal(isGrpcRequest({ 'content-type': 'application/grpc' }), true)
  assert.equal(isGrpcRequest({ 'content-type': 'application/grpc+proto' }), true)
  assert.equal(isGrpcRequest({ 'content-type': 'application/json' }), false)
  assert.equal(isGrpcRequest({}), false)
})

test('the gateway\'s error codes become gRPC statuses; anything else is INTERNAL', () => {
  assert.equal(grpcStatusOf('UPSTREAM_UNAVAILABLE'), GrpcStatus.UNAVAILABLE)
  assert.equal(grpcStatusOf('UNAUTHORIZED'), GrpcStatus.UNAUTHENTICATED)
  assert.equal(grpcStatusOf('RATE_LIMITED'), GrpcStatus.RESOURCE_EXHAUSTED)
  assert.equal(grpcStatusOf('ROUTE_NOT_FOUND'), GrpcStatus.UNIMPLEMENTED)
  assert.equal(grpcStatusOf('SOMETHING_ELSE'), GrpcStatus.INTERNAL)
})

test('grpc-message is percent-encoded outside printable ASCII, % included', () => {
  assert.equal(grpcMessage('no upstream: 100% down'), 'no upstream: 100%25 down')
  assert.equal(grpcMessage('é\n'), '%C3%A9%0A')
})

test('grpc-timeout: digits and a unit, in ms rounded up; malformed ones are no deadline', () => {
  assert.equal(grpcTimeoutMs('100m'), 100)
  assert.equal(grpcTimeoutMs('2S'), 2000)
  assert.equal(grpcTimeoutMs('1H'), 3_600_000)
  assert.equal(grpcTimeoutMs('1500u'), 2)
  assert.equal(grpcTimeoutMs('123456789S'), null, 'at most 8 digits')
  assert.equal(grpcTimeoutMs('10x'), null)
  assert.equal(grpcTimeoutMs(undefined), null)
})
