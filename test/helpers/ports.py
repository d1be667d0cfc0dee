# Holds TCP ports on 127.0.0.1 for the length of a test: each socket is bound but never
# listens, so connections to it are refused by the kernel, and no other socket is given
# the port (neither a server asking for port 0 nor a client's ephemeral port).
#
#   ports.py refuse N   N ports nothing else may bind: "a target that refuses connections"
#   ports.py reserve N  N ports only a server binding them explicitly may take (it must set
#                       SO_REUSEADDR, as Node does): "a free port this test will listen on"
#
# Prints the ports on one line, then holds them until stdin is closed.
import socket, sys

mode = sys.argv[1]
count = int(sys.argv[2])
if mode not in ('refuse', 'reserve') or count < 1:
    sys.exit('usage: ports.py refuse|reserve COUNT')
held = []
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if mode == 'reserve':
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 0))
    held.append(s)
print(' '.join(str(s.getsockname()[1]) for s in held), flush=True)
sys.stdin.read()
