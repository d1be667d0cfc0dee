// The benchmark's upstream: two plain Node HTTP servers in one process (the two targets of
// the balanced route), answering a small fixed body. Prints "<portA> <portB>".
import { createServer } from 'node:http'

const body = Buffer.from('Response from BLUE\n')
const handler = (req, res) => {
  req.resume()
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length })
  res.end(body)
}
const listen = (server) => new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
const options = { keepAliveTimeout: 60_000 }
const ports = await Promise.all([listen(createServer(options, handler)), listen(createServer(options, handler))])
process.stdout.write(`${ports.join(' ')}\n`)
