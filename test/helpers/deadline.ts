/** A bound on every wait of a test, so that a broken behaviour fails with a message instead of hanging. */

/** Settles like `promise`, or rejects with `message` once `ms` milliseconds have passed. */
export async function within<T> (promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (waited ${ms} ms)`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}
