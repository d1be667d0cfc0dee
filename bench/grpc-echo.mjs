// The gRPC benchmark's upstream: the Echo service of test/fixtures/echo.proto over h2c
// (@grpc/grpc-js), answering Unary only. Prints its port.
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

const proto = fileURLToPath(new URL('../test/fixtures/echo.proto', import.meta.url))
const { tollgate } = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: true, defaults: true }))
const server = new grpc.Server()
server.addService(tollgate.test.Echo.service, {
  Unary: (call, callback) => callback(null, { text: call.request.text })
})
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err !== null) throw err
  process.stdout.write(`${port}\n`)
})
process.on('SIGINT', () => process.exit(0))
