#!/usr/bin/python3
"""tests/http/tls_server.py - an HTTPS receiver on loopback for
test_http_faults.c.

    tls_server.py CERT KEY OUTDIR

Listens on 127.0.0.1:<free port> with CERT/KEY, answers every POST with
204 and stores its body as OUTDIR/body-NNNNNN (complete files only: written
aside, then renamed).  When listening it writes the port to OUTDIR/port the
same way.  A failed TLS handshake is counted in OUTDIR/handshake-failures.
It exits when its stdin closes (the test ended, or died) or on SIGTERM.
"""
import http.server
import os
import ssl
import sys
import threading


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    cert, key, outdir = sys.argv[1:4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    lock = threading.Lock()
    state = {"bodies": 0, "failures": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            with lock:
                state["bodies"] += 1
                name = "body-%06d" % state["bodies"]
                write_atomic(os.path.join(outdir, name), body)
            self.send_response(204)
            self.end_headers()

        def log_message(self, fmt, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, addr = self.socket.accept()
            try:
                return ctx.wrap_socket(sock, server_side=True), addr
            except (ssl.SSLError, OSError):
                sock.close()
                with lock:
                    state["failures"] += 1
                    write_atomic(
                        os.path.join(outdir, "handshake-failures"),
                        b"%d\n" % state["failures"],
                    )
                raise

        def handle_error(self, request, client_address):
            pass

    srv = Server(("127.0.0.1", 0), Handler)

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    write_atomic(os.path.join(outdir, "port"), b"%d\n" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
