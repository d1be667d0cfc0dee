/** `server.workers` / `--workers`: a number, or 0 for "auto" (one per core). */
import { availableParallelism } from 'node:os'

export function workerCount (configured: number): number {
  return configured === 0 ? availableParallelism() : configured
}
