# SPDX-License-Identifier: MIT
"""A server whose disk stays full, for test_disk.sh's agent: every request is answered 503 with
Retry-After: 30 and the storage_full error body. disk_full_server.py PORTFILE: listens on a
free loopback port and writes it to PORTFILE."""
import http.server, json, os, sys

class Full(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        b = json.dumps({"error": {"code": "storage_full", "message": "the disk is full",
                                  "details": {}}}).encode()
        self.send_response(503)
        self.send_header("Retry-After", "30")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass

srv = http.server.HTTPServer(("127.0.0.1", 0), Full)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
