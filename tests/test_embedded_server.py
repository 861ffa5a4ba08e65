"""``make run``'s server (pserve on development.ini's [server:main]) answers its
own refusals under /api/ in the API's JSON error shape; pages keep waitress's.

The server is real: pserve in a subprocess, spoken to over a socket, because
these answers come from waitress before the app is called.
"""

import configparser
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PSERVE = Path(sys.executable).parent / "pserve"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(port, max_request_body_size) of pserve on development.ini, on a free port."""
    folder = tmp_path_factory.mktemp("embedded")
    config = configparser.RawConfigParser()
    config.read(ROOT / "development.ini")
    config["server:main"]["listen"] = "127.0.0.1:0"
    # The app only has to start: these requests never reach a database.
    config["app:main"]["sqlalchemy.url"] = f"sqlite:///{folder / 'unused.sqlite'}"
    config["app:main"]["tracee.check_schema"] = "false"
    ini = folder / "development.ini"
    with ini.open("w") as out:
        config.write(out)
    process = subprocess.Popen([str(PSERVE), str(ini)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        yield wait_for_port(process), int(config["server:main"]["max_request_body_size"])
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def wait_for_port(process, timeout=30) -> int:
    """The port from waitress's "Serving on http://127.0.0.1:PORT" line."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    deadline, seen = time.monotonic() + timeout, []
    while (left := deadline - time.monotonic()) > 0 and process.poll() is None:
        try:
            line = lines.get(timeout=min(left, 0.5))
        except queue.Empty:
            continue
        seen.append(line)
        if "Serving on http://127.0.0.1:" in line:
            return int(line.rsplit(":", 1)[1])
    raise AssertionError("pserve did not start: " + "".join(seen))


def exchange(port, raw: bytes):
    """Send raw bytes, read until the server closes: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


def request_head(path, *headers):
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json",
             *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def json_error(response, status):
    code, headers, body = response
    assert code == status, body
    assert headers["content-type"] == "application/json"
    document = json.loads(body)
    assert document["status"] == "error" and len(document["errors"]) == 1
    assert set(document["errors"][0]) == {"location", "name", "description"}
    return document["errors"][0]


def test_a_declared_body_over_the_cap_is_a_json_413(server):
    port, cap = server
    # Refused from the headers alone: the body is never sent.
    response = exchange(port, request_head("/api/v1/trackers/", f"Content-Length: {cap * 2}"))
    problem = json_error(response, 413)
    assert problem["location"] == "body"
    assert problem["description"] == f"request body is larger than {cap - 1} bytes"


def test_a_chunked_body_over_the_cap_is_a_json_413(server):
    port, cap = server
    size_line = b"%x\r\n" % cap
    # Exactly the cap in bytes read, so the server has read all that was sent
    # when it answers (unread bytes would make its close a reset).
    data = size_line + b"x" * (cap - len(size_line))
    response = exchange(port, request_head("/api/v1/trackers/", "Transfer-Encoding: chunked")
                        + data)
    assert json_error(response, 413)["location"] == "body"


def test_a_malformed_body_is_a_json_400(server):
    port, _ = server
    response = exchange(port, request_head("/api/v1/trackers/7/status/",
                                           "Transfer-Encoding: chunked") + b"zz\r\n")
    problem = json_error(response, 400)
    assert problem["location"] == "request" and "chunk" in problem["description"].lower()


def test_pages_keep_the_servers_plain_answer(server):
    port, cap = server
    code, headers, _ = exchange(port, request_head("/track/x", f"Content-Length: {cap * 2}"))
    assert code == 413 and headers["content-type"].startswith("text/plain")


def test_requests_within_the_cap_reach_the_app(server):
    port, _ = server
    response = exchange(port, request_head("/api/v1/trackers/", "Content-Length: 2",
                                           "Connection: close") + b"{}")
    assert "API key" in json_error(response, 401)["description"]
