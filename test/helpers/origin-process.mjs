// An upstream in its own process (so a test can SIGKILL, SIGSTOP or SIGCONT it):
// answers `Response from <NAME>` after an optional delay; prints its port when listening.
import { createServer } from 'node:http'

const name = process.argv[2] ?? 'child'
const delayMs = Number(process.argv[3] ?? 0)
const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  req.resume()
  req.on('end', () => {
    const answer = () => res.end(`Response from ${name.toUpperCase()}`)
    if (delayMs > 0) setTimeout(answer, delayMs)
    else answer()
  })
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`)
})
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
