// The WebSocket benchmark's upstream: an echo server (ws). Prints its port.
import { WebSocketServer } from 'ws'

const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
server.on('connection', socket => socket.on('message', (data, binary) => socket.send(data, { binary })))
server.on('listening', () => process.stdout.write(`${server.address().port}\n`))
process.on('SIGINT', () => process.exit(0))
