import { test } from 'node:test'
import assert from 'node:assert/strict'
import { entityTag, ifNoneMatchMatches, revalidate } from '../../../src/admin/etag.js'

test('the tag is a strong, quoted hash of the body: equal bodies, equal tags', () => {
  const tag = entityTag('{"a":1}')
  assert.match(tag, /^"[A-Za-z0-9_-]{27}"$/)
  assert.equal(entityTag(Buffer.from('{"a":1}')), tag)
  assert.notEqual(entityTag('{"a":2}'), tag)
})

test('If-None-Match: *, a list, and W/ ignored on either side', () => {
  const tag = '"abc"'
  assert.equal(ifNoneMatchMatches(undefined, tag), false)
  assert.equal(ifNoneMatchMatches('*', tag), true)
  assert.equal(ifNoneMatchMatches(' * ', tag), true)
  assert.equal(ifNoneMatchMatches('"abc"', tag), true)
  assert.equal(ifNoneMatchMatches('W/"abc"', tag), true)
  assert.equal(ifNoneMatchMatches('"abc"', 'W/"abc"'), true)
  assert.equal(ifNoneMatchMatches('"x", W/"y",  "abc"', tag), true)
  assert.equal(ifNoneMatchMatches('"a,b", "abc"', tag), true, 'a comma inside a tag does not split it')
  assert.equal(ifNoneMatchMatches('"a,b"', '"b"'), false)
  assert.equal(ifNoneMatchMatches('abc', tag), false, 'an unquoted value is no tag')
  assert.equal(ifNoneMatchMatches('"abcd", "ab"', tag), false)
  assert.equal(ifNoneMatchMatches('', tag), false)
})

test('only a 200 to GET or HEAD with a serialized body gets a tag', () => {
  const body = '{"status":"ok"}'
  const tag = entityTag(body)
  assert.deepEqual(revalidate('GET', 200, body, undefined), { etag: tag, notModified: false })
  assert.deepEqual(revalidate('GET', 200, body, tag), { etag: tag, notModified: true })
  assert.deepEqual(revalidate('HEAD', 200, body, tag), { etag: tag, notModified: true })
  assert.deepEqual(revalidate('GET', 200, body, '"other"'), { etag: tag, notModified: false })
  assert.equal(revalidate('POST', 200, body, tag), null)
  assert.equal(revalidate('PUT', 200, body, '*'), null)
  assert.equal(revalidate('GET', 404, body, '*'), null)
  assert.equal(revalidate('GET', 201, body, '*'), null)
  assert.equal(revalidate('GET', 200, null, '*'), null)
  assert.equal(revalidate('GET', 200, { pipe: () => undefined }, '*'), null)
})
