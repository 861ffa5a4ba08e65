"""The webhook lines of ``make bench``: delivery throughput against a bare
posting loop, and what one subscribed endpoint adds to a status update.

``--only delivery`` and ``--only status-webhook`` run them alone; see
docs/performance.md for the method.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import psycopg
import requests

from bench import data
from bench.ratios import ratio
from bench.servers import CLOCK_TICKS, ROOT

DELIVERIES = 2000  # per run; one tracker.created event of a distinct tracker each
DELIVERY_TARGET = 0.5  # worker deliveries/s over the floor's posts/s, at least
STATUS_WEBHOOK_TARGET = 1.1  # a status update with one endpoint costs at most this much more
TRACKERS_PER_TENANT = 100  # status-webhook: 100k trackers, so no round repeats a tracker
BENCH_WEBHOOK_KEY = "YmVuY2gtd2ViaG9va3Mtb25seS0wMTIzNDU2Nzg5YWI="  # a Fernet key, bench only


def free_port() -> int:
    """A port no one listens on now: other benchmarks may be running on this machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def add_endpoints(db: data.BenchDatabase, tenants, url_of) -> None:
    """One endpoint (id 1) subscribed to every tracker event, for each tenant in ``tenants``."""
    from tracee.webhooks.signing_secrets import SecretBox, new_secret

    box = SecretBox((BENCH_WEBHOOK_KEY,))
    sealed = box.seal(new_secret())  # one secret for all: sealing is not what is measured
    with psycopg.connect(db.owner_dsn) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO webhook_endpoints (tenant_id, id, url, description, events, enabled, "
            "secret, created_at, updated_at) VALUES (%s, 1, %s, 'bench', "
            "'tracker.created tracker.status_changed tracker.completed', true, %s, now(), now())",
            [(t, url_of(t), sealed) for t in tenants])


# -- delivery throughput --------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children_cpu_seconds() -> float:
    """CPU of the children waited for so far: the floor's, once it has exited."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def _process(name: str, command: list[str], env: dict, log_path: Path):
    with open(log_path, "ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()  # the worker finishes what it holds, then exits
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Receiver:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(self.url + "/ready", timeout=2)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def reset(self, capture: bool = False) -> None:
        requests.post(self.url + "/reset", json={"capture": capture}, timeout=10)

    def stats(self) -> dict:
        return requests.get(self.url + "/stats", timeout=10).json()

    def captured(self) -> list:
        return requests.get(self.url + "/captured", timeout=60).json()

    def wait_for(self, count: int, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while (stats := self.stats())["count"] < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the receiver got {stats['count']} of {count} in {timeout} s")
            time.sleep(0.05)
        return stats


def _rate(stats: dict, cpu_s: float) -> dict:
    """Throughput from the first arrival to the last: neither side's start-up counts."""
    span = max(stats["last"] - stats["first"], 1e-9)
    return {"rps": round((stats["count"] - 1) / span, 1), "count": stats["count"],
            "distinct": stats["distinct"], "seconds": round(span, 3),
            "cpu_ms": round(cpu_s * 1000 / max(stats["count"], 1), 3)}


def _queue(db: data.BenchDatabase, count: int) -> None:
    """A fresh queue of ``count`` due deliveries, as the trigger writes them."""
    with psycopg.connect(db.owner_dsn) as conn:
        conn.execute("DELETE FROM webhook_attempts")
        conn.execute("DELETE FROM webhook_deliveries")
        conn.execute(
            "INSERT INTO webhook_deliveries (tenant_id, endpoint_id, tracker_id, seq, event_type,"
            " state, attempts, created_at, next_attempt_at, manual) "
            "SELECT tenant_id, 1, tracker_id, seq, type, 'pending', 0, now(), now(), false "
            "FROM tracker_events WHERE type = 'tracker.created' "
            "ORDER BY tracker_id, tenant_id LIMIT %s", (count,))
        conn.execute("ANALYZE webhook_deliveries")


def measure_delivery(port: int, rounds: int, ini: Path, env: dict, results_dir: Path,
                     databases: list, concurrency: int = 8) -> dict:
    log("creating the delivery database (10k trackers, an endpoint per tenant)")
    db = data.create_database()
    databases.append(db)
    data.load_tenants(db)
    data.load_trackers(db, 1, 10)
    receiver = Receiver(port)
    add_endpoints(db, range(1, data.TENANTS + 1), lambda t: f"{receiver.url}/hooks/{t}")
    requests_path = results_dir / "delivery-requests.json"
    env = {**env, "DATABASE_URL": db.app_dsn, "TRACEE_WEBHOOK_KEYS": BENCH_WEBHOOK_KEY}
    tracee = str(Path(sys.executable).parent / "tracee")
    runs = {"worker": [], "floor": []}
    with _process("receiver", [sys.executable, "-m", "bench.receiver", str(port)], {},
                  results_dir / "receiver.log"), \
            _process("worker", [tracee, "-c", str(ini), "worker"], env,
                     results_dir / "worker.log") as worker:
        receiver.wait_ready()

        def worker_run(capture=False):
            receiver.reset(capture)
            _queue(db, DELIVERIES)
            before = _cpu_seconds(worker.pid)
            stats = receiver.wait_for(DELIVERIES)
            if worker.poll() is not None:
                raise RuntimeError("the worker exited; see bench-results/worker.log")
            return _rate(stats, _cpu_seconds(worker.pid) - before)

        def floor_run():
            receiver.reset()
            command = [sys.executable, "-m", "bench.webhook_floor", receiver.url,
                       str(requests_path), str(concurrency)]
            before = _children_cpu_seconds()
            if subprocess.run(command, cwd=ROOT).returncode:
                raise RuntimeError("the floor's posts were not all answered 200")
            return _rate(receiver.wait_for(DELIVERIES), _children_cpu_seconds() - before)

        log("  warm-up: the worker delivers once, and its requests are kept for the floor")
        warm = worker_run(capture=True)
        requests_path.write_text(json.dumps(receiver.captured()))
        log(f"  worker    warm-up  {warm['rps']:7.1f} deliveries/s")
        for n in range(rounds):
            for side in (("floor", "worker") if n % 2 == 0 else ("worker", "floor")):
                data.checkpoint()
                measured = floor_run() if side == "floor" else worker_run()
                runs[side].append(measured)
                log(f"  {side:9} round {n + 1}  {measured['rps']:7.1f} deliveries/s  "
                    f"cpu {measured['cpu_ms']:.2f} ms each  ({measured['count']} in "
                    f"{measured['seconds']:.2f} s)")
    combined = {}
    for side, measured in runs.items():
        count = sum(m["count"] - 1 for m in measured)
        seconds = sum(m["seconds"] for m in measured)
        combined[side] = {"rps": round(count / seconds, 1),
                          "cpu_ms": round(sum(m["cpu_ms"] for m in measured) / len(measured), 3),
                          "rounds": measured}
    return {"label": "webhook deliveries to a local receiver", "target": DELIVERY_TARGET,
            "deliveries": DELIVERIES, "concurrency": concurrency, **combined}


# -- a status update with and without an endpoint ------------------------------------------


def measure_status_webhook(runner, start_app, workload_class, rounds: int,
                           databases: list) -> dict:
    """The same app server, rounds alternating between tenants without an endpoint
    and tenants with one subscribed to every event (even tenant ids).

    Twice the other lines' rounds: what an endpoint adds is the trigger's
    insert (some 0.02 ms of database time an event), while one round of a
    write moves by 10-15 % with the machine, so the cost is the median of
    eight paired rounds, not of four nor of pooled rates."""
    rounds *= 2
    log("creating the status-webhook database (100k trackers; even tenants have an endpoint)")
    db = data.create_database()
    databases.append(db)
    data.load_tenants(db)
    keys = data.issue_keys(db)
    data.load_trackers(db, 1, TRACKERS_PER_TENANT)
    add_endpoints(db, range(2, data.TENANTS + 1, 2),
                  lambda t: f"https://hooks.example.com/tenant-{t}")
    w = workload_class(keys, data.sample_links(db, 48_000, seed=3))
    warm = [x for x in w.links if x[2] % 8 == 7]
    measured = [x for x in w.links if x[2] % 8 != 7]

    def per_round(hooked: bool):
        mine = [x for x in measured if (x[1] % 2 == 0) == hooked]
        size = -(-len(mine) // rounds)
        return [w.status(mine[i * size:(i + 1) * size]) for i in range(rounds)]

    trigger_ms = _trigger_ms_per_event(db)
    log(f"  queueing trigger per event: {trigger_ms['without']:.3f} ms without an endpoint, "
        f"{trigger_ms['with']:.3f} ms with one (database time, EXPLAIN ANALYZE)")
    app = start_app(db)
    result = runner.interleaved("status-webhook", {
        "without": (app, per_round(False)), "with": (app, per_round(True))}, w.status(warm))
    with psycopg.connect(db.owner_dsn) as conn:
        queued = conn.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0]
    log(f"  {queued} deliveries queued by the status updates of tenants with an endpoint")
    return {"label": "POST .../status/ with an endpoint", "target": STATUS_WEBHOOK_TARGET,
            "queued": queued, "trigger_ms": trigger_ms,
            **{k: asdict(v) for k, v in result.items()}}


def _trigger_ms_per_event(db: data.BenchDatabase, events: int = 5000) -> dict:
    """The queueing trigger's own time per status event, for tenants with and without an
    endpoint, as PostgreSQL reports it: steadier on a shared machine than req/s, and it
    is the whole of what an endpoint adds to the request (the statements do not change)."""
    statement = (
        "EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO tracker_events (tenant_id, tracker_id, seq, "
        "type, process, actor, created_at, action) SELECT t, i, 1000, 'step.started', "
        "'3D Printing', 'bench', now(), 'start' FROM generate_series(1, %(per)s) i "
        "CROSS JOIN generate_series(1, %(tenants)s) t WHERE t %% 2 = %(parity)s")
    spent = {"without": [], "with": []}
    with psycopg.connect(db.owner_dsn) as conn:
        for _ in range(3):
            for side, parity in (("without", 1), ("with", 0)):
                plan = conn.execute(statement, {"per": 2 * events // data.TENANTS,
                                                "tenants": data.TENANTS, "parity": parity})
                triggers = plan.fetchone()[0][0]["Triggers"]
                conn.rollback()
                queue = next(t for t in triggers if t["Trigger Name"] == "queue_webhook_deliveries")
                spent[side].append(queue["Time"] / queue["Calls"])
    return {side: round(min(times), 4) for side, times in spent.items()}


def _span(side: dict) -> str:
    cpu = [m["cpu_ms"] for m in side["rounds"]]
    return f"{min(cpu):.2f}-{max(cpu):.2f}"


def render_lines(results: dict) -> tuple[list[str], list[str]]:
    """(table rows, target lines) for the webhook lines present in ``results``."""
    rows, targets = [], []
    delivery = results.get("delivery")
    if delivery:
        worker, floor = delivery["worker"], delivery["floor"]
        to_floor = worker["rps"] / floor["rps"]
        verdict = "met" if to_floor >= delivery["target"] else "NOT MET"
        rows.append(f"{'webhook deliveries (worker)':36} {'10k':>5} {worker['rps']:7.0f} "
                    f"{'-':>7} {'-':>7} {floor['rps']:7.0f} {to_floor:5.2f} "
                    f"{worker['cpu_ms']:6.2f} {floor['cpu_ms']:5.2f}")
        targets.append(f"  {'delivery ratio to a bare posting loop':36} {to_floor:.2f} >= "
                       f"{delivery['target']}: {verdict}"
                       f"  ({delivery['deliveries']} deliveries, {delivery['concurrency']} at a "
                       f"time; CPU per delivery {worker['cpu_ms']:.2f} ms worker, "
                       f"{floor['cpu_ms']:.2f} ms floor, "
                       f"{worker['cpu_ms'] / floor['cpu_ms']:.1f}x; rounds "
                       f"{_span(worker)} and {_span(floor)} ms)")
    status = results.get("status-webhook")
    if status:
        for side in ("without", "with"):
            m = status[side]
            rows.append(f"{'POST .../status/ ' + side + ' endpoint':36} {'100k':>5} "
                        f"{m['rps']:7.0f} {m['p50_ms']:7.2f} {m['p99_ms']:7.2f} {'-':>7} "
                        f"{'-':>5} {m['cpu_ms']:6.2f} {'-':>5}")
        cost = ratio(status["without"], status["with"])  # without's rate over with's
        cpu = status["with"]["cpu_ms"] / status["without"]["cpu_ms"]
        verdict = "met" if cost <= status["target"] else "NOT MET"
        trigger = status["trigger_ms"]
        targets.append(f"  {'status cost with an endpoint / without':36} {cost:.2f} <= "
                       f"{status['target']}: {verdict}"
                       f"  (app CPU per request {cpu:.2f}x; {status['queued']} deliveries queued;"
                       f" trigger {trigger['with']:.3f} vs {trigger['without']:.3f} ms per event)")
    return rows, targets
