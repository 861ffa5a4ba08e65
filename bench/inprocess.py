"""Worker CPU per request in process: the app's variants and the floor, interleaved.

    .venv/bin/python -m bench.inprocess [--requests 400] [--rounds 5] \\
        [--scenarios get,page,qr_repeat] [NAME=SETTING=VALUE,...]

Wall-clock benchmarks mean little on a machine others share; this measures
what the load on the machine does not distort much: ``time.process_time()``
of N WSGI calls per scenario, app and floor in turn within one process,
rounds rotating, on a fresh 10k database (PostgreSQL, Redis as in
production), and the number of Python function calls per request (cProfile,
exact and repeatable). Each variant is production.ini with settings
changed, e.g. ``nocache=tracee.api.key_cache_seconds=0``.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

from bench import data
from bench.run import REDIS_URL, RESULTS, ROOT, SAMPLE, Workload, _repeat_png
from bench.wrk import Request


def environ_for(request: Request) -> dict:
    body = (request.body or "").encode()
    environ = {
        "REQUEST_METHOD": request.method, "PATH_INFO": request.path.split("?")[0],
        "QUERY_STRING": request.path.partition("?")[2], "SERVER_NAME": "tracee.app",
        "SERVER_PORT": "443", "HTTP_HOST": "tracee.app", "wsgi.url_scheme": "https",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
    if request.key:
        environ["HTTP_X_API_KEY"] = request.key
    if request.forwarded_for:
        environ["HTTP_X_FORWARDED_FOR"] = request.forwarded_for
    if request.if_none_match:
        environ["HTTP_IF_NONE_MATCH"] = request.if_none_match
    return environ


def call(app, request: Request) -> str:
    status = []
    body = app(environ_for(request), lambda s, h, exc_info=None: status.append(s))
    for _ in body:
        pass
    getattr(body, "close", lambda: None)()
    return status[0]


def make_app(settings: dict):
    from pyramid.paster import get_appsettings

    import tracee

    ini = get_appsettings(str(ROOT / "production.ini"))
    return tracee.main({}, **{**ini, **settings})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench.inprocess", description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="*", metavar="NAME=SETTING=VALUE[,...]")
    parser.add_argument("--requests", type=int, default=400, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenarios", default="get,page,qr_repeat")
    args = parser.parse_args(argv)
    db, keys = data.create_database(), None
    try:
        data.load_tenants(db)
        keys = data.issue_keys(db)
        data.load_trackers(db, 1, 10)
        w = Workload(keys, data.sample_links(db, SAMPLE, seed=1))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "floor-qr.png").write_bytes(_repeat_png(w))
        os.environ.update({"DATABASE_URL": db.app_dsn, "REDIS_URL": REDIS_URL,
                           "TRACEE_PUBLIC_URL": "https://tracee.app",
                           "BENCH_QR_PNG": str(RESULTS / "floor-qr.png")})
        from bench import floor

        apps = {"app": make_app({})}
        for text in args.variants:
            name, _, rest = text.partition("=")
            apps[name] = make_app(dict(s.split("=", 1) for s in rest.split(",")))
        apps["floor"] = floor.app
        apps["free"] = floor.limiter_free_app
        workloads = {
            "get": w.get(w.links[:2000]), "page": w.page(w.links[:2000]),
            "embed": w.embed(w.links[:2000]), "qr_repeat": w.qr(w.repeat()),
            "public_qr": w.public_qr(w.repeat()), "poll": w.poll(w.links[:2000]),
        }
        for name in args.scenarios.split(","):
            requests = workloads[name]
            for app in apps.values():  # warm: caches, connections, first renders
                statuses = {call(app, r) for r in requests}
                assert all(s.startswith(("200", "304")) for s in statuses), statuses
            cpu = {label: 0.0 for label in apps}
            order = list(apps)
            for n in range(args.rounds):
                for label in order[n % len(order):] + order[:n % len(order)]:
                    app = apps[label]
                    batch = [requests[(n * args.requests + i) % len(requests)]
                             for i in range(args.requests)]
                    started = time.process_time()
                    for request in batch:
                        call(app, request)
                    cpu[label] += time.process_time() - started
            calls = {}
            for label, app in apps.items():
                profile = cProfile.Profile()
                profile.enable()
                for request in requests[:100]:
                    call(app, request)
                profile.disable()
                calls[label] = pstats.Stats(profile).total_calls / 100
            per = args.requests * args.rounds
            for label in apps:
                print(f"{name:10} {label:12} {cpu[label] * 1e6 / per:8.0f} us CPU/request  "
                      f"{calls[label]:8.0f} Python calls/request  "
                      f"app/floor CPU {cpu[label] / cpu['floor']:.2f}", flush=True)
    finally:
        data.drop_database(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
