"""``make bench``: Tracee's production configuration against a bare-WSGI floor.

    .venv/bin/python -m bench.run [--seconds 8] [--rounds 4] [--warmup 2] [--quick]

1. Checks PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379)
   and starts them if they are down.
2. Creates two databases of its own, ``tracee_bench_<random>``: 1,000 tenants
   each, with 10 trackers per tenant (10k) and with 1,000 (1M), loaded
   set-based; one raised-limit key per tenant. Each is migrated as its owner
   and served to a restricted role, so row-level security is in force.
3. Starts four servers on loopback, all from gunicorn.conf.py with the same
   worker settings: the app (``gunicorn --paste production.ini``) and the
   floor (``bench/floor.py``), on each database. Only one is loaded at a
   time; the others sit idle.
4. Measures each endpoint in rounds that alternate between the servers being
   compared (app and floor, and for the scale figures 10k and 1M), so that a
   shared machine's drift hits them alike; each ratio is the median of the
   ratios of paired rounds (round n of each side); then paced runs at 70 %
   of each endpoint's maximum rate while sampling worker memory.
5. The trackers list with a search term (``GET /api/v1/trackers/?q=``, the
   query the dashboard's list shares) for a tenant of 100k trackers against
   one of 1k, on a third database of its own, in alternating rounds.
6. Prints the table and the targets (met / NOT MET), writes bench-results/,
   stops the servers and drops the databases. Each run is kept there
   (results-<time>.json), and the run ends with each target's range over the
   last three full runs (``--summary`` prints it alone): run ``make bench``
   three times and read the ranges.

The floor (bench/floor.py) pays the rate limit's one Redis round trip where
the app must; the reads are also measured against the floor without it
(limiter-free), printed beside.

7. Webhooks (bench/webhooks.py): the worker delivering to a local receiver
   against a bare loop posting the same signed requests, and a status update
   for tenants with a subscribed endpoint against tenants without one.

``--only search``, ``--only delivery`` and ``--only status-webhook`` (or
several, comma-separated) run those lines alone, each on its own database.

See docs/performance.md for what is measured and why.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import data, servers, webhooks, wrk
from bench.ratios import ratio
from bench.wrk import Request

ROOT = servers.ROOT
RESULTS = ROOT / "bench-results"
FIRST_PORT = 18080
REDIS_URL = os.environ.get("TRACEE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PUBLIC_URL = "https://tracee.app"
CONNECTIONS = 8  # saturating runs: 4 per worker, so no worker ever waits for work
EACH_SECONDS = 120  # at most, for a warm-up sending each request once
PACED_CONNECTIONS = 16  # paced runs: enough idle connections to send on schedule
SAMPLE = 48_000  # distinct trackers / tokens per workload
SEARCH_TENANTS = {"100k": (1, 100_000), "1k": (2, 1_000)}  # scale -> (tenant, trackers)
SEARCH_TARGET = 1.5  # at most this much slower for the 100k tenant than for the 1k one
ALONE = ("search", "delivery", "status-webhook")  # lines --only runs by themselves
# The reads measured at both scales, and against the limiter-free floor too
# (bench/floor.py's limiter_free_app, the floor before it paid the rate limit's
# Redis call), with this target beside the honest floor's.
SCALED = ("get", "page", "embed")
FREE_TARGET = 0.5
RUNS_IN_RANGE = 3  # the targets' ranges over the last runs kept in bench-results/


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- services -----------------------------------------------------------------------------


def _postgres_up() -> bool:
    import psycopg

    try:
        psycopg.connect(data.ADMIN_URL, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


def _redis_up() -> bool:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True,
                          text=True).stdout.strip() == "PONG"


def ensure_services() -> None:
    if not _postgres_up():
        log("PostgreSQL is down; starting it")
        versions = os.listdir("/etc/postgresql")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main",
                        "start"], check=True)
    if not _redis_up():
        log("Redis is down; starting it")
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                        "--port", "6379", "--save", "", "--appendonly", "no",
                        "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
                       check=True)
    for _ in range(50):
        if _postgres_up() and _redis_up():
            return
        time.sleep(0.2)
    raise SystemExit("PostgreSQL or Redis did not come up")


# -- workloads ----------------------------------------------------------------------------


def _status_body(tracker_id: int) -> str:
    steps = ["Preparing/Slicing", "3D Printing", "Post-Processing", "Quality Check",
             "Packaging", "Ready for Shipping"]
    process = steps[(tracker_id * 5) % len(steps)]
    action = "start" if tracker_id % 3 == 0 else "complete"
    return json.dumps({"process": process, "action": action})


def _client(n: int) -> str:
    """One of 1,000 customer addresses, as the load balancer in front appends it
    (production.ini believes X-Forwarded-For from 127.0.0.1, where the load comes
    from), so the per-address limit sees customers."""
    return f"10.0.{n // 250 % 4}.{n % 250 + 1}"


@dataclass
class Workload:
    keys: dict[int, str]
    links: list[tuple[str, int, int]]  # (token, tenant, tracker), shuffled

    def part(self, index: int, parts: int = 8) -> list[tuple[str, int, int]]:
        """Disjoint slices, so writes and first renders never meet their own earlier run."""
        return [x for x in self.links if x[2] % parts == index]

    def repeat(self) -> list[tuple[str, int, int]]:
        return [x for x in self.links if x[1] == 21][:500]  # one shop reprinting its slips

    def get(self, links):
        return [Request("GET", f"/api/v1/trackers/{i}/", self.keys[t]) for _, t, i in links]

    def page(self, links):
        return [Request("GET", f"/track/{token}", forwarded_for=_client(n))
                for n, (token, _, _) in enumerate(links)]

    def embed(self, links):
        return [Request("GET", f"/embed/{token}/", forwarded_for=_client(n))
                for n, (token, _, _) in enumerate(links)]

    def create(self, _links=None):
        body = json.dumps({"name": "Bench order - Blue Vase", "template": data.TEMPLATE})
        return [Request("POST", "/api/v1/trackers/", self.keys[t], body) for t in self.keys]

    def status(self, links):
        return [Request("POST", f"/api/v1/trackers/{i}/status/", self.keys[t], _status_body(i))
                for _, t, i in links]

    def qr(self, links):
        return [Request("GET", f"/api/v1/trackers/{i}/qr/", self.keys[t]) for _, t, i in links]

    def poll(self, links):
        """A visible tracking page asking whether anything changed (it has not:
        the status runs never touch these trackers, whose event_seq is 1)."""
        # As the page names it: in its language (tracee.i18n).
        return [Request("GET", f"/track/{token}/progress.json?lang=en",
                        forwarded_for=_client(n),
                        if_none_match='"p1-1"')
                for n, (token, _, _) in enumerate(links)]

    def public_qr(self, links):
        return [Request("GET", f"/track/{token}/qr.png", forwarded_for=_client(n))
                for n, (token, _, _) in enumerate(links)]


def _chunks(items: list, count: int) -> list[list]:
    size = -(-len(items) // count)
    return [items[i * size:(i + 1) * size] for i in range(count)]


@dataclass
class Scenario:
    name: str
    label: str
    target: float | None  # minimum ratio to the (honest, rate-limiting) floor
    app: list[list[Request]]  # one request list per round
    floor: list[list[Request]] | None  # None: not served by the floor
    warmup: list[Request]
    app_paced: list[list[Request]]  # per round, at 70 % of the maximum rate
    floor_paced: list[list[Request]] | None
    # The warm-up first sends each of its requests once: what is measured is
    # the state every one of them reaches after its first answer.
    warm_each: bool = False


def scenarios(w: Workload, rounds: int) -> list[Scenario]:
    """The endpoints. Requests that change state (status) or must meet a cold
    cache (first QR render) get trackers of their own in every round and run,
    for the app and for the floor alike; the others may repeat."""
    def same(requests):
        return [requests] * rounds

    def fresh(kind, part):
        return [kind(c) for c in _chunks(w.part(part, 8), rounds)]

    everyone = w.links
    return [
        Scenario("get", "GET /api/v1/trackers/{id}/", 0.8, same(w.get(everyone)),
                 same(w.get(everyone)), w.get(everyone), same(w.get(everyone)),
                 same(w.get(everyone))),
        Scenario("page", "GET /track/<token>", 0.6, same(w.page(everyone)),
                 same(w.page(everyone)), w.page(everyone), same(w.page(everyone)),
                 same(w.page(everyone))),
        Scenario("embed", "GET /embed/<token>/", 0.6, same(w.embed(everyone)),
                 same(w.embed(everyone)), w.embed(everyone), same(w.embed(everyone)),
                 same(w.embed(everyone))),
        Scenario("create", "POST /api/v1/trackers/", 0.5, same(w.create()), same(w.create()),
                 w.create(), same(w.create()), same(w.create())),
        Scenario("status", "POST /api/v1/trackers/{id}/status/", 0.5, fresh(w.status, 0),
                 fresh(w.status, 1), w.status(w.part(2, 8)), fresh(w.status, 3),
                 fresh(w.status, 4)),
        Scenario("qr_repeat", "GET .../qr/ (repeat, keyed)", 0.5, same(w.qr(w.repeat())),
                 same(w.qr(w.repeat())), w.qr(w.repeat()), same(w.qr(w.repeat())),
                 same(w.qr(w.repeat()))),
        Scenario("qr_public", "GET /track/<token>/qr.png (repeat)", 0.8,
                 same(w.public_qr(w.repeat())), same(w.public_qr(w.repeat())),
                 w.public_qr(w.repeat()), same(w.public_qr(w.repeat())),
                 same(w.public_qr(w.repeat()))),
        Scenario("poll", "GET /track/<token>/progress.json (304)", 0.8,
                 same(w.poll(w.part(7, 8))), same(w.poll(w.part(7, 8))), w.poll(w.part(7, 8)),
                 same(w.poll(w.part(7, 8))), same(w.poll(w.part(7, 8))), warm_each=True),
        Scenario("qr_first", "GET .../qr/ (first render)", None, fresh(w.qr, 5), None,
                 w.qr(w.part(6, 8)), fresh(w.qr, 7), None),
    ]


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Measurement:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # worker CPU per request
    requests: int
    errors: dict
    wrk_cpu_pct: float
    steal_pct: float = 0.0  # of the machine's CPU time, taken by the hypervisor
    busy_pct: float = 0.0  # of the machine's CPU time, used by anyone (us included)
    rounds_rps: list[float] = field(default_factory=list)  # each round's, in order

    @classmethod
    def of(cls, result: wrk.Result, cpu_s: float, ticks) -> "Measurement":
        (busy0, steal0, total0), (busy1, steal1, total1) = ticks
        total = max(total1 - total0, 1)
        return cls(round(result.rps, 1), result.p50_ms, result.p99_ms,
                   round(cpu_s * 1000 / max(result.requests, 1), 3), result.requests,
                   result.errors, round(100 * result.wrk_cpu_s / result.seconds, 1),
                   round(100 * (steal1 - steal0) / total, 1),
                   round(100 * (busy1 - busy0) / total, 1))

    @classmethod
    def combined(cls, rounds: list["Measurement"]) -> "Measurement":
        """Rounds of one server: throughput and CPU over all of them; latency
        percentiles averaged (wrk reports them per run); each round's rate kept,
        for ratios of paired rounds (``ratio``)."""
        requests = sum(m.requests for m in rounds)
        seconds = sum(m.requests / m.rps for m in rounds if m.rps)
        errors = {}
        for m in rounds:
            for kind, count in m.errors.items():
                errors[kind] = errors.get(kind, 0) + count
        def mean(attribute):
            return round(sum(getattr(m, attribute) for m in rounds) / len(rounds), 3)

        return cls(
            round(requests / seconds, 1) if seconds else 0.0,
            mean("p50_ms"), mean("p99_ms"),
            round(sum(m.cpu_ms * m.requests for m in rounds) / max(requests, 1), 3),
            requests, errors, mean("wrk_cpu_pct"), mean("steal_pct"), mean("busy_pct"),
            [m.rps for m in rounds],
        )


@dataclass
class Runner:
    seconds: float  # per round
    warmup: float
    scripts: Path
    cpu: int = field(default_factory=wrk.last_cpu)

    def measure(self, server: servers.Server, name: str, requests: list[Request],
                rate: float = 0, seconds: float | None = None) -> Measurement:
        script = wrk.write_script(self.scripts / f"{server.name}-{name}.lua", requests, rate)
        cpu_before, ticks_before = server.cpu_seconds(), servers.cpu_ticks()
        result = wrk.run(server.url, script, seconds or self.seconds,
                         PACED_CONNECTIONS if rate else CONNECTIONS, self.cpu)
        measurement = Measurement.of(result, server.cpu_seconds() - cpu_before,
                                     (ticks_before, servers.cpu_ticks()))
        if result.failed:
            log(f"  {server.name} {name}: {result.failed} failed requests {result.errors}")
        log(f"  {server.name:9} {name:16} {measurement.rps:7.1f} req/s  p50 "
            f"{measurement.p50_ms:6.2f} ms  p99 {measurement.p99_ms:7.2f} ms  "
            f"cpu {measurement.cpu_ms:.2f} ms/req  steal {measurement.steal_pct:.0f}%")
        return measurement

    def warm(self, server: servers.Server, name: str, requests: list[Request],
             each: bool = False) -> None:
        if each and requests:
            script = wrk.write_script(self.scripts / f"{server.name}-{name}-each.lua",
                                      requests, once=True)
            wrk.run_each_once(server.url, script, EACH_SECONDS, CONNECTIONS, self.cpu)
        if self.warmup and requests:
            script = wrk.write_script(self.scripts / f"{server.name}-{name}-warmup.lua",
                                      requests)
            wrk.run(server.url, script, self.warmup, CONNECTIONS, self.cpu)

    def interleaved(self, name: str, lineup: dict[str, tuple[servers.Server, list]],
                    warmup: list[Request],
                    warmups: dict[str, list[Request]] | None = None,
                    warm_each: bool = False) -> dict[str, Measurement]:
        """Each server's rounds in turn, the order rotating every round. Each
        is warmed with ``warmup``, or with its own from ``warmups`` (by label):
        a server on another database must not be sent keys and tokens it does
        not have (unknown keys from one address soon get every request from
        it refused, a refusal being cheap, so its rounds would measure 429s)."""
        data.checkpoint()
        for label, (server, _) in lineup.items():
            self.warm(server, name, (warmups or {}).get(label, warmup), warm_each)
        rounds = {label: [] for label in lineup}
        order = list(lineup)
        for n in range(len(next(iter(lineup.values()))[1])):
            for label in order[n % len(order):] + order[:n % len(order)]:
                server, per_round = lineup[label]
                rounds[label].append(self.measure(server, f"{name}-{n + 1}", per_round[n]))
        return {label: Measurement.combined(runs) for label, runs in rounds.items()}


def server_env_base() -> dict:
    return {"REDIS_URL": REDIS_URL, "TRACEE_PUBLIC_URL": PUBLIC_URL,
            "BENCH_QR_PNG": str(RESULTS / "floor-qr.png")}


def server_env(db: data.BenchDatabase) -> dict:
    return {"DATABASE_URL": db.app_dsn, **server_env_base()}


def app_config(app_root: Path, overrides: dict[str, str], name: str = "bench") -> Path:
    """production.ini itself, or (to try a setting, or an older checkout) a
    generated ini that uses it with a few settings changed."""
    if not overrides:
        return app_root / "production.ini"
    path = RESULTS / f"{name}.ini"
    lines = [f"{key} = {value}" for key, value in overrides.items()]
    path.write_text(
        "# Generated by bench/run.py: production.ini with these settings changed.\n"
        f"[app:main]\nuse = config:{app_root / 'production.ini'}#main\n" + "\n".join(lines) + "\n"
    )
    return path


def start_app(stack, name, db, port, workers, app_root=ROOT, overrides=None):
    ini = str(app_config(app_root, overrides or {}, name))
    return stack.enter_context(servers.serve(
        name, ["--paste", ini], server_env(db), port, workers, RESULTS / f"{name}.log", app_root))


def start_floor(stack, name, db, port, workers, key_cache_seconds: str = "0",
                limiter_free: bool = False):
    env = {**server_env(db), "BENCH_KEY_CACHE_SECONDS": key_cache_seconds}
    target = "bench.floor:limiter_free_app" if limiter_free else "bench.floor:app"
    return stack.enter_context(servers.serve(
        name, [target], env, port, workers, RESULTS / f"{name}.log"))


def key_cache_seconds(app_root: Path, overrides: dict[str, str]) -> str:
    """The app's tracee.api.key_cache_seconds, so the floor remembers keys exactly as long."""
    from pyramid.paster import get_appsettings

    from tracee.settings import DEFAULTS

    name = "tracee.api.key_cache_seconds"
    settings = get_appsettings(str(app_root / "production.ini"))
    return overrides.get(name, settings.get(name, DEFAULTS.get(name, "0")))


def qr_render_cpu_ms(count: int = 200) -> float:
    """CPU per first render of a tracking-URL QR code at the default size, in process."""
    from tracee.branding.qr import DEFAULT_SIZE, render_qr

    urls = [f"{PUBLIC_URL}/track/{uuid.uuid4()}" for _ in range(count)]
    render = getattr(render_qr, "__wrapped__", render_qr)
    render(urls[0], DEFAULT_SIZE)
    started = time.process_time()
    for url in urls:
        render(url, DEFAULT_SIZE)
    return (time.process_time() - started) * 1000 / count


def _repeat_png(w: Workload) -> bytes:
    """The PNG the app serves for the first repeated tracker: what the floor serves raw."""
    from tracee.branding.qr import DEFAULT_SIZE, render_qr

    token = w.repeat()[0][0]
    return render_qr(f"{PUBLIC_URL}/track/{token}", DEFAULT_SIZE).png


# -- the run ------------------------------------------------------------------------------


def load(per_tenant: int) -> tuple[data.BenchDatabase, dict[int, str], float]:
    db = data.create_database()
    data.load_tenants(db)
    keys = data.issue_keys(db)
    started = time.monotonic()
    data.load_trackers(db, 1, per_tenant)
    return db, keys, time.monotonic() - started


def load_search() -> tuple[data.BenchDatabase, dict[str, list[Request]]]:
    """A database whose tenant 1 has 100k trackers, tenant 2 1k and the others 10, with names
    that differ per order; per scale, list requests searching one order's word."""
    db = data.create_database()
    data.load_tenants(db)
    keys = data.issue_keys(db)
    # Every other tenant has 10, as in the 10k database: without them the table
    # held two tenants, and plans for "a tenant" guessed half the table.
    data.load_trackers(db, 1, 10, tenants=(3, data.TENANTS), name_sql=data.SEARCH_NAME)
    requests = {}
    for scale, (tenant, count) in SEARCH_TENANTS.items():
        data.load_trackers(db, 1, count, tenants=(tenant, tenant), name_sql=data.SEARCH_NAME)
        picks = random.Random(tenant).sample(range(1, count + 1), min(count, 2000))
        requests[scale] = [
            Request("GET", f"/api/v1/trackers/?q={data.search_word(tenant, i)}", keys[tenant])
            for i in picks]
    started = time.monotonic()
    data.index_names(db)
    log(f"  name search rows written in {time.monotonic() - started:.0f} s")
    return db, requests


def measure_search(runner: Runner, stack, port: int, workers: int, args, overrides,
                   databases: list) -> dict:
    log("creating the search database (tenants of 100k and 1k trackers)")
    db, requests = load_search()
    databases.append(db)
    app = start_app(stack, "app-search", db, port, workers, args.app_root, overrides)
    lineup = {f"app@{scale}": (app, [reqs] * args.rounds) for scale, reqs in requests.items()}
    measured = runner.interleaved("search", lineup, requests["1k"] + requests["100k"])
    return {"label": "GET /api/v1/trackers/?q= (search)", "target": None,
            **{k: asdict(v) for k, v in measured.items()}}


def measure_alone(name: str, runner: Runner, stack, port: int, workers: int, args, overrides,
                  databases: list) -> dict:
    """One of the lines that need a database of their own; the webhook lines on free ports."""
    if name == "search":
        return measure_search(runner, stack, port, workers, args, overrides, databases)
    if name == "delivery":
        settings = {**overrides, "tracee.webhooks.allow_http": "true",
                    "tracee.webhooks.allow_private_targets": "true"}
        ini = app_config(args.app_root, settings, "worker")
        return webhooks.measure_delivery(webhooks.free_port(), args.rounds, ini,
                                         server_env_base(), RESULTS, databases)
    return webhooks.measure_status_webhook(
        runner, lambda db: start_app(stack, "app-status-webhook", db, webhooks.free_port(),
                                     workers, args.app_root, overrides),
        Workload, args.rounds, databases)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8,
                        help="measured seconds per endpoint and server, split into rounds")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds per endpoint and server; ratios are the median of paired "
                        "rounds")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up before each endpoint")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py, i.e. one per core)")
    parser.add_argument("--quick", action="store_true",
                        help="GET and page at 10k only: no 1M, pacing or memory (development)")
    parser.add_argument("--only", metavar="NAMES",
                        help="search, delivery, status-webhook (comma-separated): those lines "
                        "alone; with --quick, the endpoints to measure, comma-separated "
                        "(default get,page; e.g. poll)")
    parser.add_argument("--app-root", type=Path, default=ROOT,
                        help="measure the app of another checkout (e.g. an older commit)")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                        help="change an app setting for this run (to measure its effect)")
    parser.add_argument("--summary", action="store_true",
                        help="only print each target's range over the last "
                        f"{RUNS_IN_RANGE} runs kept in bench-results/")
    args = parser.parse_args(argv)
    if args.summary:
        print(summarize() or "no runs in bench-results/ yet")
        return 0
    started, ticks = time.monotonic(), servers.cpu_ticks()
    RESULTS.mkdir(exist_ok=True)
    scripts = RESULTS / "scripts"
    shutil.rmtree(scripts, ignore_errors=True)
    scripts.mkdir()
    for old in RESULTS.glob("*.log"):
        old.unlink()
    workers = args.workers or int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
    overrides = dict(item.split("=", 1) for item in args.set)
    key_cache = key_cache_seconds(args.app_root, overrides)
    per_round = max(1, args.seconds // args.rounds)
    runner = Runner(per_round, args.warmup, scripts)
    ensure_services()
    report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "workers": workers,
              "cpus": os.cpu_count(), "seconds": per_round * args.rounds, "rounds": args.rounds,
              "warmup": args.warmup, "connections": CONNECTIONS, "wrk_cpu": runner.cpu,
              "overrides": overrides, "app_root": str(args.app_root),
              "key_cache_seconds": key_cache, "quick": args.quick, "results": {}}
    results = report["results"]
    databases = []
    try:
        alone = (args.only or "").split(",")
        if args.only and all(name in ALONE for name in alone):
            for name in alone:
                with ExitStack() as stack:
                    results[name] = measure_alone(name, runner, stack, FIRST_PORT, workers,
                                                  args, overrides, databases)
            return _finish(report, started, ticks, databases)
        log("creating the 10k database")
        small, small_keys, _ = load(10)
        databases.append(small)
        w10k = Workload(small_keys, data.sample_links(small, SAMPLE, seed=1))
        if not args.quick:
            log("creating the 1M database (set-based load)")
            big, big_keys, seconds = load(1000)
            databases.append(big)
            report["load_1m_seconds"] = round(seconds, 1)
            log(f"  1,000,000 trackers loaded in {seconds:.0f} s")
            w1m = Workload(big_keys, data.sample_links(big, SAMPLE, seed=2))
            (RESULTS / "floor-qr.png").write_bytes(_repeat_png(w1m))
        with ExitStack() as stack:
            port = iter(range(FIRST_PORT, FIRST_PORT + 10))
            app10k = start_app(stack, "app-10k", small, next(port), workers, args.app_root,
                               overrides)
            floor10k = start_floor(stack, "floor-10k", small, next(port), workers, key_cache)
            free10k = start_floor(stack, "free-10k", small, next(port), workers, key_cache,
                                  limiter_free=True)
            small_scenarios = {s.name: s for s in scenarios(w10k, args.rounds)}
            if args.quick:
                for name in (args.only or "get,page").split(","):
                    s = small_scenarios[name]
                    lineup = {"app@10k": (app10k, s.app), "floor@10k": (floor10k, s.floor)}
                    if name in SCALED:
                        lineup["free@10k"] = (free10k, s.floor)
                    measured = runner.interleaved(name, lineup, s.warmup,
                                                  warm_each=s.warm_each)
                    results[name] = {"label": s.label, "target": s.target,
                                     **{k: asdict(v) for k, v in measured.items()}}
            else:
                app1m = start_app(stack, "app-1m", big, next(port), workers, args.app_root,
                                  overrides)
                floor1m = start_floor(stack, "floor-1m", big, next(port), workers, key_cache)
                free1m = start_floor(stack, "free-1m", big, next(port), workers, key_cache,
                                     limiter_free=True)
                for s in scenarios(w1m, args.rounds):
                    lineup = {"app@1m": (app1m, s.app)}
                    if s.floor is not None:
                        lineup["floor@1m"] = (floor1m, s.floor)
                    small_warmups = {}
                    if s.name in SCALED:  # both floors and the scale figures, in the same rounds
                        small_s = small_scenarios[s.name]
                        lineup["free@1m"] = (free1m, s.floor)
                        lineup["app@10k"] = (app10k, small_s.app)
                        lineup["floor@10k"] = (floor10k, small_s.floor)
                        lineup["free@10k"] = (free10k, small_s.floor)
                        small_warmups = dict.fromkeys(("app@10k", "floor@10k", "free@10k"),
                                                      small_s.warmup)
                    measured = runner.interleaved(s.name, lineup, s.warmup, small_warmups,
                                                  s.warm_each)
                    results[s.name] = {"label": s.label, "target": s.target,
                                       **{k: asdict(v) for k, v in measured.items()}}
                report["paced"], report["rss"] = paced_runs(
                    runner, app1m, floor1m, scenarios(w1m, args.rounds), results)
            results["search"] = measure_search(runner, stack, next(port), workers, args,
                                               overrides, databases)
        for name in ("delivery", "status-webhook"):
            with ExitStack() as stack:
                results[name] = measure_alone(name, runner, stack, FIRST_PORT + 20, workers,
                                              args, overrides, databases)
        report["qr_render_cpu_ms"] = round(qr_render_cpu_ms(), 2)
    except BaseException:
        for db in databases:
            log(f"dropping {db.name}")
            data.drop_database(db)
        raise
    return _finish(report, started, ticks, databases)


def _finish(report: dict, started: float, ticks, databases: list) -> int:
    for db in databases:
        log(f"dropping {db.name}")
        data.drop_database(db)
    report["total_seconds"] = round(time.monotonic() - started, 1)
    busy1, steal1, total1 = servers.cpu_ticks()
    report["steal_pct"] = round(100 * (steal1 - ticks[1]) / max(total1 - ticks[2], 1), 1)
    table = render(report)
    print(table)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"results-{stamp}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"results-{stamp}.txt").write_text(table + "\n")
    (RESULTS / "latest.txt").write_text(table + "\n")
    summary = summarize()
    if summary:
        print("\n" + summary)
    return 0


def summarize(count: int = RUNS_IN_RANGE) -> str:
    """Each ratio target's range over the last ``count`` runs that measured it
    (bench-results/results-*.json): met only if met in every one of them."""
    reports = [json.loads(path.read_text())
               for path in sorted(RESULTS.glob("results-*.json"))]
    seen: dict[str, list[tuple[float, float]]] = {}
    for report in reversed(reports):
        if report.get("quick"):
            continue  # shorter, at 10k only: not the runs the targets are judged on
        for what, value, minimum in ratio_targets(report):
            runs = seen.setdefault(what, [])
            if len(runs) < count:
                runs.append((value, minimum))
    if not seen:
        return ""
    lines = [f"Ranges over the last {count} runs that measured each (never the best one):"]
    for what, runs in seen.items():
        ratios, minimum = [r for r, _ in runs], runs[0][1]
        met = len(runs) == count and all(r >= minimum for r in ratios)
        verdict = _verdict(met) + ("" if len(runs) == count else f" (only {len(runs)} run"
                                   f"{'s' if len(runs) > 1 else ''} so far)")
        lines.append(f"  {what:52} {min(ratios):.2f}-{max(ratios):.2f} >= {minimum}: {verdict}")
    return "\n".join(lines)


def paced_runs(runner: Runner, app: servers.Server, floor: servers.Server,
               all_scenarios: list[Scenario], results: dict):
    """Each endpoint at 70 % of its measured maximum, the app's rounds
    alternating with the floor's at 70 % of the floor's maximum: the floor's
    tail is the control for what the machine does to any server. Worker memory
    is sampled throughout; that stretch is the memory run."""
    samples = [(0.0, app.rss_kib())]
    paced = {}
    began = time.monotonic()
    for s in all_scenarios:
        lineup = {"app": (app, s.app_paced, 0.7 * results[s.name]["app@1m"]["rps"])}
        if s.floor_paced is not None:
            lineup["floor"] = (floor, s.floor_paced, 0.7 * results[s.name]["floor@1m"]["rps"])
        rounds = {label: [] for label in lineup}
        data.checkpoint()
        for server, _, rate in lineup.values():
            # Unmeasured, at the rate: the previous run's backlog drains first.
            runner.measure(server, s.name + "-settle", s.warmup, rate=rate, seconds=2)
        for n in range(len(s.app_paced)):
            for label, (server, per_round, rate) in lineup.items():
                rounds[label].append(runner.measure(server, f"{s.name}-paced-{n + 1}",
                                                    per_round[n], rate=rate))
        paced[s.name] = {label: {"target_rps": round(lineup[label][2], 1),
                                 **asdict(Measurement.combined(runs))}
                         for label, runs in rounds.items()}
        samples.append((round(time.monotonic() - began, 1), app.rss_kib()))
    return paced, samples


# -- the table ----------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def ratio_targets(report: dict) -> list[tuple[str, float, float]]:
    """(what, ratio, minimum) for every ratio target in a run's report."""
    results, found = report["results"], []
    main_scale = "1m" if any("app@1m" in e for e in results.values()) else "10k"
    for name, entry in results.items():
        if not entry.get("target"):
            continue
        scales = ("1m", "10k") if name in SCALED else (main_scale,)
        for scale in scales:
            app, floor = entry.get(f"app@{scale}"), entry.get(f"floor@{scale}")
            if app is None or floor is None:
                continue
            suffix = f" @{scale}" if name in SCALED else ""
            found.append((entry["label"] + suffix, ratio(app, floor), entry["target"]))
            free = entry.get(f"free@{scale}")
            if free is not None:
                found.append((entry["label"] + suffix + " vs limiter-free",
                              ratio(app, free), FREE_TARGET))
    return found


def render(report: dict) -> str:
    results = report["results"]
    lines = [
        f"Tracee benchmark {report['date']}: {report['cpus']} CPUs, {report['workers']} gunicorn "
        f"sync workers, wrk -t1 -c{report['connections']} pinned to CPU {report['wrk_cpu']}; "
        f"per endpoint and server {report['rounds']} rounds of "
        f"{report['seconds'] // report['rounds']} s, interleaved, after {report['warmup']} s "
        "warm-up",
        "",
        f"{'endpoint':36} {'scale':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'floor/s':>7} {'ratio':>5} {'cpu ms':>6} {'floor':>5} {'free/s':>7} {'ratio':>5}",
    ]
    hook_rows, hook_targets = webhooks.render_lines(results)
    for entry in results.values():
        for scale in ("1m", "10k", "100k", "1k"):
            app, floor = entry.get(f"app@{scale}"), entry.get(f"floor@{scale}")
            if app is None:
                continue
            free = entry.get(f"free@{scale}")
            to_floor = f"{ratio(app, floor):.2f}" if floor else "-"
            free_columns = f" {free['rps']:7.0f} {ratio(app, free):5.2f}" if free else ""
            lines.append(
                f"{entry['label']:36} {scale:>5} {app['rps']:7.0f} {app['p50_ms']:7.2f} "
                f"{app['p99_ms']:7.2f} {(floor['rps'] if floor else 0):7.0f} {to_floor:>5} "
                f"{app['cpu_ms']:6.2f} {(floor['cpu_ms'] if floor else 0):5.2f}{free_columns}"
            )
    lines += hook_rows
    lines += ["", "ratio = app req/s / floor req/s, the median over paired rounds (the floor "
              "pays the rate limit's Redis call as the app must); free = the limiter-free "
              "floor; cpu = worker CPU per request (ms); p50/p99 at the maximum rate", "",
              "Targets:"]
    for what, value, minimum in ratio_targets(report):
        lines.append(f"  {what:52} ratio {value:.2f} >= {minimum}: {_verdict(value >= minimum)}")
    if "qr_render_cpu_ms" in report:
        cpu = report["qr_render_cpu_ms"]
        lines.append(f"  {'QR first render (CPU, in process)':36} {cpu:.2f} ms < 5 ms: "
                     f"{_verdict(cpu < 5)}")
    for name in ("get", "page"):
        entry = results.get(name, {})
        if "app@1m" in entry and "app@10k" in entry:
            cost = ratio(entry["app@10k"], entry["app@1m"])
            floor_cost = ratio(entry["floor@10k"], entry["floor@1m"])
            lines.append(f"  {name + ' cost at 1M / at 10k':36} {cost:.2f} <= 1.25: "
                         f"{_verdict(cost <= 1.25)}  (floor {floor_cost:.2f})")
    search = results.get("search", {})
    if "app@100k" in search and "app@1k" in search:
        cost = search["app@1k"]["rps"] / search["app@100k"]["rps"]
        lines.append(f"  {'search cost at 100k / at 1k':36} {cost:.2f} <= {SEARCH_TARGET}: "
                     f"{_verdict(cost <= SEARCH_TARGET)}  (p50 {search['app@100k']['p50_ms']:.2f}"
                     f" vs {search['app@1k']['p50_ms']:.2f} ms)")
    lines += hook_targets
    for name, runs in report.get("paced", {}).items():
        m = runs["app"]
        spread = m["p99_ms"] / m["p50_ms"] if m["p50_ms"] else float("inf")
        control = ""
        if "floor" in runs:
            f = runs["floor"]
            control = f"; floor {f['p99_ms'] / f['p50_ms']:.2f}" if f["p50_ms"] else ""
        lines.append(
            f"  {name + ' p99/p50 at 70% of max':36} {spread:.2f} <= 4: {_verdict(spread <= 4)}  "
            f"({m['rps']:.0f} of {m['target_rps']:.0f} req/s, p50 {m['p50_ms']:.2f} ms, "
            f"p99 {m['p99_ms']:.2f} ms, steal {m['steal_pct']:.0f}%{control})"
        )
    if report.get("rss"):
        first, last = report["rss"][0], report["rss"][-1]
        span = last[0] - first[0]
        for pid, start_kib in first[1].items():
            end_kib = last[1].get(pid, start_kib)
            growth = 100 * (end_kib - start_kib) / start_kib
            lines.append(f"  {f'worker {pid} RSS over {span:.0f} s':36} "
                         f"{start_kib / 1024:.1f} -> {end_kib / 1024:.1f} MiB "
                         f"({growth:+.1f}%) < 10%: {_verdict(growth < 10)}")
    tail = f"whole run {report['total_seconds']:.0f} s"
    if "steal_pct" in report:
        tail += f"; CPU steal by the hypervisor over the run {report['steal_pct']:.1f}%"
    if "load_1m_seconds" in report:
        tail = f"1M load {report['load_1m_seconds']:.0f} s; " + tail
    lines += ["", tail]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
