// An upstream in its own process (so a test can SIGKILL, SIGSTOP or SIGCONT it): answers
// `Response from <NAME>` after an optional delay, on the port given (a restart takes the
// same one) or an ephemeral one. Prints `listening <port>` when listening,
// then `request <method> <url>` as each request arrives (before it is answered), so a test
// can know which requests it holds. Exits when its stdin closes.
import { createServer } from 'node:http'

const name = process.argv[2] ?? 'child'
const delayMs = Number(process.argv[3] ?? 0)
const port = Number(process.argv[4] ?? 0)
const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  process.stdout.write(`request ${req.method} ${req.url}\n`)
  req.resume()
  req.on('end', () => {
    const answer = () => res.end(`Response from ${name.toUpperCase()}`)
    if (delayMs > 0) setTimeout(answer, delayMs)
    else answer()
  })
})
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
