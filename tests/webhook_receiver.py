"""A local webhook receiver (http.server in a thread) for delivery tests.

``answer(n, request)`` decides each response: ``n`` counts the requests
received so far (from 1); it returns ``(status, headers, body)`` and may
sleep to stall past the worker's timeout.
"""

import contextlib
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict
    body: bytes
    path: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


def always_ok(_n, _request):
    return 200, {}, b"thanks"


class Receiver:
    def __init__(self, answer=always_ok):
        self.answer = answer
        self.received: list[Received] = []
        self.lock = threading.Lock()

    def take(self, handler) -> tuple:
        length = int(handler.headers.get("Content-Length") or 0)
        request = Received({k.lower(): v for k, v in handler.headers.items()},
                           handler.rfile.read(length), handler.path)
        with self.lock:
            self.received.append(request)
            n = len(self.received)
        return self.answer(n, request)


@contextmanager
def receiver(answer=always_ok):
    """``with receiver(answer) as (url, rec)``: ``url`` ends with a slash."""
    rec = Receiver(answer)

    class Handler(BaseHTTPRequestHandler):
        # Kept-alive connections, as real receivers keep them; without
        # Nagle's algorithm, or each body waits for the sender's delayed ACK.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def handle(self):
            # The sender may go away between requests (a worker killed).
            with contextlib.suppress(ConnectionError):
                super().handle()

        def do_POST(self):
            status, headers, body = rec.take(self)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the worker gave up waiting (a stall past its timeout)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", rec
    finally:
        server.shutdown()
        server.server_close()
