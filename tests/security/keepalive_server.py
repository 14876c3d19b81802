"""An HTTP/1.1 server that ignores "Connection: close": it answers every request on a
connection, in order, and logs "METHOD PATH HOST BODY" per request to the file argv[3]. The
pipelining replay (net_pipelining_test.sh) uses it to see whether a second request on one proxied
connection reaches the server. Usage: keepalive_server.py ADDR PORTFILE LOGFILE"""
import socket
import socketserver
import sys
import threading

lock = threading.Lock()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        buf = b''
        conn = self.request
        conn.settimeout(10)
        try:
            while True:
                while b'\r\n\r\n' not in buf:
                    c = conn.recv(65536)
                    if not c:
                        return
                    buf += c
                head, _, buf = buf.partition(b'\r\n\r\n')
                lines = head.decode(errors='replace').split('\r\n')
                method, path = (lines[0].split(' ') + ['', ''])[:2]
                hdrs = {}
                for ln in lines[1:]:
                    k, _, v = ln.partition(':')
                    hdrs[k.strip().lower()] = v.strip()
                body = b''
                if 'content-length' in hdrs:
                    n = int(hdrs['content-length'])
                    while len(buf) < n:
                        c = conn.recv(65536)
                        if not c:
                            return
                        buf += c
                    body, buf = buf[:n], buf[n:]
                elif hdrs.get('transfer-encoding', '').lower() == 'chunked':
                    while True:
                        while b'\r\n' not in buf:
                            buf += conn.recv(65536)
                        size, _, buf = buf.partition(b'\r\n')
                        size = int(size.split(b';')[0], 16)
                        if size == 0:  # trailers, then an empty line
                            while not buf.startswith(b'\r\n') and b'\r\n\r\n' not in buf:
                                buf += conn.recv(65536)
                            buf = buf[2:] if buf.startswith(b'\r\n') else buf.partition(b'\r\n\r\n')[2]
                            break
                        while len(buf) < size + 2:
                            buf += conn.recv(65536)
                        body += buf[:size]
                        buf = buf[size + 2:]
                with lock:
                    with open(sys.argv[3], 'a') as f:
                        f.write('%s %s %s %s\n' % (method, path, hdrs.get('host', '-'), body.decode(errors='replace') or '-'))
                out = ('seen %s' % path).encode()
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(out) + out)
        except (OSError, ValueError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


srv = Server((sys.argv[1], 0), Handler)
with open(sys.argv[2], 'w') as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
