#!/usr/bin/env python3
"""The spec's kind of sandbox, for the benchmark: a ThreadingHTTPServer that appends each
request as a JSON line (written to the OS before answering) and acknowledges it.

Usage: py_sandbox.py [PORT] [FILE]   (0 = any free port; prints `listening on 127.0.0.1:PORT`)
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        millis = int(time.time() * 1000)
        record = {
            "id": f"{self.command}_{millis}",
            "timestamp": millis,
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers),
            "body": body.decode("utf-8", "replace"),
        }
        line = (json.dumps(record) + "\n").encode()
        with LOCK:
            self.server.log.write(line)
            self.server.log.flush()  # to the OS before the answer, like the sandbox
        answer = json.dumps({"status": "received", "request_id": record["id"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    path = sys.argv[2] if len(sys.argv) > 2 else "py_sandbox_requests.jsonl"
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.log = open(path, "ab")
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
