"""The delivery benchmark's floor: ``python -m bench.webhook_floor BASE REQUESTS CONCURRENCY``.

A bare loop that posts the requests the worker sent (REQUESTS: a JSON file of
``{"path", "headers", "body"}`` as the receiver kept them: already signed) to BASE,
CONCURRENCY at a time, each thread with its own requests.Session, as the
worker's threads have: no database, no payload to build, nothing to sign or
record. What the worker does beyond this is what the ratio prices.
"""

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

TIMEOUT = 10.0
_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        _local.session.trust_env = False
    return _local.session


def post(url: str, item: dict) -> int:
    headers = {k: v for k, v in item["headers"].items()
               if k in ("content-type", "user-agent") or k.startswith("webhook-")}
    response = _session().post(url + item["path"], data=item["body"].encode(), headers=headers,
                               allow_redirects=False, timeout=(TIMEOUT, TIMEOUT))
    response.content  # noqa: B018  (read to the end, so the connection is reused)
    return response.status_code


def main(url: str, path: str, concurrency: int) -> int:
    with open(path) as source:
        items = json.load(source)
    with ThreadPoolExecutor(concurrency) as pool:
        failed = sum(status != 200 for status in pool.map(lambda i: post(url, i), items))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
