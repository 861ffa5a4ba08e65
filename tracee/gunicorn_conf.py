"""gunicorn settings for production, shipped with the package.

From an installed wheel: ``gunicorn -c python:tracee.gunicorn_conf --paste
production.ini``; in a checkout, ``gunicorn.conf.py`` at the top reads this
module, so ``gunicorn --paste production.ini`` gets the same settings.
DATABASE_URL, REDIS_URL and TRACEE_PUBLIC_URL are still read from the
environment by production.ini.
"""

import gc
import os

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


def post_worker_init(worker):
    """Once the app is loaded, hide everything alive now (modules, the app,
    SQLAlchemy's mappers and caches) from the cyclic garbage collector: a full
    collection then walks only what requests create, instead of ~130,000
    objects (150 ms on a 2-core machine, felt as a latency spike)."""
    gc.collect()
    gc.freeze()
