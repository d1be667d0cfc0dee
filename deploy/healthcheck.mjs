// The container's health check (Dockerfile HEALTHCHECK, Kubernetes probes): GET the admin
// API's /health with the admin token, exit 0 on {"status":"ok"}, else 1. Plain Node, so
// the image needs no curl. TOLLGATE_ADMIN_PORT (default 9090) when the admin port moved.
const port = process.env.TOLLGATE_ADMIN_PORT ?? '9090'
const token = process.env.TOLLGATE_ADMIN_TOKEN
try {
  const res = await fetch(`http://127.0.0.1:${port}/health`, {
    headers: token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(2000)
  })
  const body = await res.json()
  process.exitCode = res.status === 200 && body.status === 'ok' ? 0 : 1
} catch (err) {
  process.stderr.write(`health check failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
