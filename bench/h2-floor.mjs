// The least a Node HTTP/2 proxy can do, as a floor for the h2 section: node:http2's
// compatibility server (TLS, ALPN, HTTP/1.1 fallback) handing each request to an undici
// Pool with `dispatch`, the response written straight back. No framework, no routing, no
// header rules, no timeouts, no error handling: nothing a gateway may leave out. Arguments:
// the upstream URL, the key file, the certificate file. Prints its port.
import { readFileSync } from 'node:fs'
import { createSecureServer } from 'node:http2'
import { Pool } from 'undici'

const [upstream, keyFile, certFile] = process.argv.slice(2)
const pool = new Pool(upstream, { connections: 128 })
const server = createSecureServer({ allowHTTP1: true, key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => {
  pool.dispatch({ path: req.url, method: req.method, headers: { host: req.headers[':authority'] ?? req.headers.host } }, {
    onConnect () {},
    onHeaders (status, raw) {
      const headers = {}
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i].toString('latin1').toLowerCase()
        if (name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding') headers[name] = raw[i + 1].toString('latin1')
      }
      res.writeHead(status, headers)
      return true
    },
    onData (chunk) { res.write(chunk); return true },
    onComplete () { res.end() },
    onError () { res.destroy() }
  })
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`))
process.on('SIGINT', () => process.exit(0))
