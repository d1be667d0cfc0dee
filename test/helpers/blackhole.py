# A TCP port whose accept queue is full and never drained: connection attempts to it
# neither succeed nor fail (the kernel drops their SYNs), like a black-holed host.
import socket, sys, time

server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen(0)
port = server.getsockname()[1]
fillers = []
for _ in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(('127.0.0.1', port))
    except BlockingIOError:
        pass
    fillers.append(c)
time.sleep(0.1)
print(port, flush=True)
sys.stdin.read()
