import { test } from 'node:test'
import assert from 'node:assert/strict'
import { grpcMessage, grpcTimeoutMs, isGrpcRequest } from '../../../src/proxy/grpc.js'

test('gRPC requests are told by their content type', () => {
  assert.equal(isGrpcRequest({ 'content-type': 'application/grpc' }), true)
  assert.equal(isGrpcRequest({ 'content-type': 'application/grpc+proto' }), true)
  assert.equal(isGrpcRequest({ 'content-type': 'application/json' }), false)
  assert.equal(isGrpcRequest({}), false)
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
