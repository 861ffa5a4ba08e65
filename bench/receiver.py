"""A webhook receiver for the delivery benchmark, run in a process of its own:
``python -m bench.receiver PORT``.

Every POST is answered 200 at once and counted with its arrival time; the
bench asks for the count and the first and last arrival (GET /stats), starts
a new count (POST /reset, ``{"capture": true}`` to also keep each request's
headers and body) and reads what was kept (GET /captured), which the floor
then posts again. HTTP/1.1, so senders may keep their connections open.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL = ("/reset", "/stats", "/captured")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset(False)

    def reset(self, capture: bool) -> None:
        self.count, self.first, self.last = 0, None, None
        self.ids, self.capture, self.captured = set(), capture, []

    def take(self, path: str, headers: dict, body: bytes) -> None:
        now = time.monotonic()
        with self.lock:
            self.count += 1
            self.first = self.first if self.first is not None else now
            self.last = now
            self.ids.add(headers.get("webhook-id"))
            if self.capture:
                self.captured.append({"path": path, "headers": headers, "body": body.decode()})


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's algorithm the
    # second waits for the sender's delayed ACK, 40 ms per request on Linux.
    disable_nagle_algorithm = True

    def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with STATE.lock:
            if self.path == "/stats":
                answer = {"count": STATE.count, "first": STATE.first, "last": STATE.last,
                          "distinct": len(STATE.ids)}
            elif self.path == "/captured":
                answer = STATE.captured
            else:
                return self._answer(200, b"ready")
        self._answer(200, json.dumps(answer).encode(), "application/json")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reset":
            with STATE.lock:
                STATE.reset(bool(json.loads(body or b"{}").get("capture")))
        else:
            STATE.take(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        self._answer(200, b"ok")

    def log_message(self, *_args):
        pass


def main(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
