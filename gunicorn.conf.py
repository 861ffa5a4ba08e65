"""gunicorn settings for production: ``gunicorn --paste production.ini``.

gunicorn reads this file from the working directory; DATABASE_URL, REDIS_URL
and TRACEE_PUBLIC_URL are still read from the environment by production.ini.
"""

import gc
import os

bind = os.environ.get("TRACEE_BIND", "0.0.0.0:6543")
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
