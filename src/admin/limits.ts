/** The largest admin request body: a whole config fits many times over; more is refused with 413. */
export const ADMIN_BODY_LIMIT = 1024 * 1024
export const ADMIN_BODY_LIMIT_TEXT = '1 MB'
/** How long one admin request may take to arrive in full. */
export const ADMIN_REQUEST_TIMEOUT_MS = 30_000
