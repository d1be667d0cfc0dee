/**
 * Run as its own process (node --expose-gc --import tsx): stores COUNT responses of distinct
 * URLs, each with a BODY-byte body, in a memory cache store of MAX bytes, and prints one
 * JSON line with the resident memory before and after (both after a full GC) and what the
 * store says it holds. A process of its own, so that nothing else the tests hold is measured.
 */
import { MemoryCacheStore } from '../../src/stores/cache-memory.js'
import type { StoredResponse } from '../../src/cache/stored-response.js'

const [count, bodySize, maxSize] = process.argv.slice(2).map(Number) as [number, number, number]
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

function response (i: number): StoredResponse {
  const now = Date.now()
  return {
    status: 200,
    headers: { 'content-type': 'application/octet-stream', etag: `"${i}"`, 'cache-control': 'max-age=600', 'content-length': String(bodySize) },
    // Distinct bytes per entry, from the shared pool as Buffer.from makes them below 4 KB.
    body: Buffer.from(String(i).padEnd(bodySize, 'x')),
    requestTime: now,
    responseTime: now,
    vary: null,
    variant: '',
    keepUntil: now + 600_000
  }
}

const store = new MemoryCacheStore({ maxSize })
// Warm up (the code compiled, the first pages of the heap in use), then start from a
// clean store of the same shape.
for (let i = 0; i < 1000; i++) store.put({ host: 'warm.example', url: `/warm/${i}` }, response(i))
await store.purge({ prefix: '/warm/' })
gc()
gc()
const before = process.memoryUsage().rss
// A fifth of the entries: the store is full, the heap and the allocator at their working size.
const fifth = Math.floor(count / 5)
for (let i = 0; i < fifth; i++) store.put({ host: 'example.com', url: `/items/${i}?v=1` }, response(i))
gc()
gc()
const full = process.memoryUsage().rss
for (let i = fifth; i < count; i++) store.put({ host: 'example.com', url: `/items/${i}?v=1` }, response(i))
gc()
gc()
const after = process.memoryUsage().rss
process.stdout.write(JSON.stringify({ before, full, after, size: store.size, count: store.count, maxSize: store.maxSize }) + '\n')
