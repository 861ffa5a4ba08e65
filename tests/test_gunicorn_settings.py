"""Production's gunicorn settings: loopback unless told otherwise (a proxy is
the way in), the same from a checkout's gunicorn.conf.py and from the package;
access lines only where asked for."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_signup import free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def effective(config_args, **env) -> dict:
    """gunicorn's resolved settings, as --print-config shows them, run from the checkout."""
    environ = {k: v for k, v in os.environ.items() if k not in ("TRACEE_BIND", "WEB_CONCURRENCY")}
    out = subprocess.run([str(GUNICORN), *config_args, "--print-config", "tracee:main"],
                         cwd=ROOT, env={**environ, **env}, capture_output=True, text=True,
                         check=True, timeout=30).stdout
    pairs = (line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.mark.parametrize("config_args", [[], ["-c", "python:tracee.gunicorn_conf"]],
                         ids=["checkout gunicorn.conf.py", "packaged module"])
def test_binds_to_loopback_unless_told(config_args):
    settings = effective(config_args)
    assert settings["bind"] == "['127.0.0.1:6543']"
    assert settings["post_worker_init"] == "<post_worker_init()>"  # gc.freeze
    told = effective(config_args, TRACEE_BIND="unix:/run/tracee.sock", WEB_CONCURRENCY="3")
    assert told["bind"] == "['unix:/run/tracee.sock']"
    assert told["workers"] == "3"


def hello(environ, start_response):
    """The smallest WSGI app, for gunicorn to serve in the access-log test."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def served_log(tmp_path, **env) -> str:
    """What gunicorn printed around one request, configured as production runs it:
    these settings and production.ini's logging (which ``--paste`` hands over)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "TRACEE_ACCESS_LOG"}
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(GUNICORN), "-c", "python:tracee.gunicorn_conf", "--log-config",
             str(ROOT / "production.ini"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "test_gunicorn_settings:hello"],
            cwd=Path(__file__).parent, env={**environ, "PYTHONPATH": str(ROOT), **env},
            stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping?x=1", timeout=5) as r:
                    assert r.read() == b"hello"
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return log.read_text()


def test_access_lines_where_asked(tmp_path):
    assert "GET /ping?x=1" not in served_log(tmp_path)
    assert "GET /ping?x=1" in served_log(tmp_path, TRACEE_ACCESS_LOG="-")


# gunicorn's logger under a logging config, asked to log one request whose
# fields cannot be gathered: it prints "made" if it tried, "skipped" if not.
ACCESS_PROBE = """
import sys
from gunicorn.config import Config
from tracee.gunicorn_conf import logger_class

def gathered(*args):
    raise RuntimeError("made")

logger_class.atoms = gathered
cfg = Config()
cfg.set("logconfig", sys.argv[1])
try:
    logger_class(cfg).access(None, None, {}, None)
except RuntimeError as made:
    print(made)
else:
    print("skipped")
"""

HANDLED_ACCESS = """
[loggers]
keys = root, access
[handlers]
keys = out
[formatters]
keys =
[logger_root]
level = WARN
handlers =
[logger_access]
level = INFO
handlers = out
qualname = gunicorn.access
[handler_out]
class = StreamHandler
args = (sys.stdout,)
"""


@pytest.mark.parametrize(("logging_config", "expected"),
                         [("production.ini", "skipped"), ("handled.ini", "made")])
def test_access_lines_are_made_only_where_they_go(tmp_path, logging_config, expected):
    # production.ini configures logging but gives gunicorn.access no handler:
    # gunicorn would make a line per request there, and drop it.
    (tmp_path / "handled.ini").write_text(HANDLED_ACCESS)
    path = (ROOT if logging_config == "production.ini" else tmp_path) / logging_config
    out = subprocess.run([sys.executable, "-c", ACCESS_PROBE, str(path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == expected, out.stderr
