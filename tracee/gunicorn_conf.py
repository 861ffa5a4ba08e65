"""gunicorn settings for production, shipped with the package.

From an installed wheel: ``gunicorn -c python:tracee.gunicorn_conf --paste
production.ini``; in a checkout, ``gunicorn.conf.py`` at the top reads this
module, so ``gunicorn --paste production.ini`` gets the same settings.
DATABASE_URL, REDIS_URL and TRACEE_PUBLIC_URL are still read from the
environment by production.ini.
"""

import gc
import os

from gunicorn.glogging import Logger

# Loopback by default: production runs behind a reverse proxy (TLS, slow
# clients, the X-Forwarded-For the rate limits trust), which must be the only
# way in. TRACEE_BIND overrides: another port, a unix socket
# ("unix:/run/tracee.sock"), or an address the proxy reaches on another host.
bind = os.environ.get("TRACEE_BIND", "127.0.0.1:6543")
# One single-threaded process per core: a request is short and CPU-bound in
# Python, so more processes than cores only queue for the CPU (measured with
# 2, 3 and 4 on 2 cores: no gain, more variance). Behind a load balancer that
# buffers slow clients, which sync workers need.
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
worker_class = "sync"
# One line per request, where TRACEE_ACCESS_LOG says ("-": standard error, else a
# file). Unset, there is none: the proxy in front already logs every request.
accesslog = os.environ.get("TRACEE_ACCESS_LOG") or None


class AccessLogWhenAsked(Logger):
    """gunicorn's logger, making access lines only where they have somewhere to go.

    gunicorn turns its access log on whenever it is given a logging config,
    and ``--paste production.ini`` gives it the ini's, which has no handler
    for ``gunicorn.access``. So each request paid for a line that went
    nowhere (its fields gathered, a log record made, then dropped): about a
    tenth of a keyed read's CPU in the worker. Lines are made where
    ``accesslog`` names a place, or where a logging config gives
    ``gunicorn.access`` a handler of its own."""

    def setup(self, cfg):
        super().setup(cfg)
        self._lines_go_somewhere = bool(cfg.accesslog) or self.access_log.hasHandlers()

    def access(self, resp, req, environ, request_time):
        if self._lines_go_somewhere:
            super().access(resp, req, environ, request_time)


logger_class = AccessLogWhenAsked


def post_worker_init(worker):
    """Once the app is loaded, hide everything alive now (modules, the app,
    SQLAlchemy's mappers and caches) from the cyclic garbage collector: a full
    collection then walks only what requests create, instead of ~130,000
    objects (150 ms on a 2-core machine, felt as a latency spike)."""
    gc.collect()
    gc.freeze()
