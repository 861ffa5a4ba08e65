"""Production's gunicorn settings: loopback unless told otherwise (a proxy is
the way in), the same from a checkout's gunicorn.conf.py and from the package."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
