/** A bound on every wait of a test, so that a broken behaviour fails with a message instead of hanging. */
import type { Socket } from 'node:net'

/**
 * Settles like `promise`, or rejects with `message` once `ms` milliseconds have passed. A
 * function message is built only then (it may count what is still missing).
 */
export async function within<T> (promise: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${typeof message === 'string' ? message : message()} (waited ${ms} ms)`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves when `socket` closes, however it ends (a reset included). */
export async function closed (socket: Socket): Promise<void> {
  if (socket.destroyed) return
  await new Promise<void>(resolve => socket.once('close', () => resolve()))
}

/**
 * Resolves once `condition()` holds, checking after each turn of the event loop; rejects
 * with `message` after `ms`. For states no event announces (a count reached elsewhere).
 */
export async function eventually (condition: () => boolean, ms: number, message: string | (() => string)): Promise<void> {
  const deadline = performance.now() + ms
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${typeof message === 'string' ? message : message()} (waited ${ms} ms)`)
    await new Promise(resolve => setImmediate(resolve))
  }
}

/**
 * Resolves once `check()` resolves true, asking again every `everyMs`; rejects with
 * `message` after `ms`. For states only a request can observe (a store that is back).
 */
export async function pollUntil (check: () => Promise<boolean>, everyMs: number, ms: number, message: string | (() => string)): Promise<void> {
  const deadline = performance.now() + ms
  while (!await check()) {
    if (performance.now() > deadline) throw new Error(`${typeof message === 'string' ? message : message()} (waited ${ms} ms)`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
