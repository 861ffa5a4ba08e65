"""A bounded fault test: a receiver failing half the attempts and stalling
some past the timeout, and the worker process SIGKILLed mid-run and
restarted. Every event arrives at least once and each tracker's in order.

The issue's size: 2,000 events over 50 trackers (40 each), about 4,500
attempts. It stays short with short retry delays and timeouts (a stall
costs a thread 0.2 s), enough threads for the trackers' queues to move side
by side, small bodies (four steps a tracker), and the audit trail written
in a few statements rather than a transaction per change.
"""

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict

import sqlalchemy as sa
from conftest import make_app
from standardwebhooks import Webhook
from webhook_receiver import receiver
from webtest import TestApp

from tracee.tenancy.scope import bind_tenant
from tracee.tracking import workflow
from tracee.tracking.models import Tracker, TrackerEvent, TrackerStep

TRACKERS, EVENTS_PER_TRACKER, STEPS = 50, 40, 4
TIMEOUT, STALL = 0.2, 0.4
SETTINGS = {
    "tracee.webhooks.allow_private_targets": "true",
    "tracee.webhooks.allow_http": "true",
    "tracee.webhooks.retry_delays": " ".join(["0.01"] * 40),
    "tracee.webhooks.jitter": "0.5",
    "tracee.webhooks.timeout": str(TIMEOUT),
    "tracee.webhooks.claim_seconds": "1",
    "tracee.webhooks.poll_seconds": "0.02",
}
# SQLite serialises writes: more threads than this only wait for its lock.
THREADS = {"sqlite": 8, "postgresql": 16}
ACTOR = workflow.Actor("test")


def write_config(path, database):
    lines = ["[app:main]", "use = egg:tracee", f"sqlalchemy.url = {database.app_url}",
             "tracee.public_url = https://tracee.test",
             f"tracee.webhooks.concurrency = {THREADS[database.kind]}"]
    lines += [f"{name} = {value}" for name, value in SETTINGS.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_worker(config):
    return subprocess.Popen([sys.executable, "-m", "tracee.cli.main", "-c", str(config), "worker"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def make_events(registry, tenant_id, monkeypatch):
    """Trackers without a template, each moved by starts of "Step 1" to
    "Step 4" in turn, again and again (each start after the first pass is a
    rework): one status change each, as many as the tracker needs, with few
    steps, so bodies stay small. The workflow's own rules make the trail; it
    is then written in one statement per table rather than a transaction per
    change, and the trigger queues one delivery per tracker.created and per
    status change."""
    trail = []
    monkeypatch.setattr(workflow, "save_changes",
                        lambda _session, tracker, events: trail.extend(
                            {"tenant_id": tenant_id, "tracker_id": tracker.id, **e}
                            for e in events))
    session = registry["db.session_factory"]()
    try:
        bind_tenant(session, tenant_id)
        trackers = [workflow.create_tracker(session, tenant_id, f"Order #{n + 1}", ACTOR)
                    for n in range(TRACKERS)]
        for tracker in trackers:
            for change in range(EVENTS_PER_TRACKER - 1):
                assert workflow.apply_action(session, tracker, f"Step {change % STEPS + 1}",
                                             "start", ACTOR)
        connection = session.connection()
        connection.execute(sa.insert(TrackerStep.__table__), [
            {"tenant_id": tenant_id, "tracker_id": t.id, "position": s.position, "name": s.name,
             "visible": s.visible, "started_at": s.started_at, "completed_at": s.completed_at}
            for t in trackers for s in t.steps])
        connection.execute(sa.insert(TrackerEvent.__table__), trail)
        table = Tracker.__table__
        connection.execute(
            sa.update(table)
            .where(table.c.tenant_id == sa.bindparam("b_tenant"),
                   table.c.id == sa.bindparam("b_id"))
            .values(event_seq=sa.bindparam("seq"), updated_at=sa.bindparam("at")),
            [{"b_tenant": tenant_id, "b_id": t.id, "seq": t.event_seq, "at": t.updated_at}
             for t in trackers])
        session.commit()
    finally:
        session.close()


def delivered_count(database) -> int:
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text(
            "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"))


def test_nothing_is_lost_when_receivers_fail_and_workers_die(database, tenant, tmp_path,
                                                              monkeypatch):
    chance, lock = random.Random(20261202), threading.Lock()
    successes = []  # (tracker id, sequence, webhook-id, request) of each 2xx answered
    attempts = [0]

    def unreliable(_n, request):
        with lock:
            roll = chance.random()
            attempts[0] += 1
        if roll < 0.5:
            return 500, {}, b"failing"
        data = json.loads(request.body)["data"]
        with lock:  # taken as it arrives: the order is the arrivals'
            successes.append((data["tracker"]["id"], data["sequence"], request.id, request))
        if roll < 0.55:
            # A 200 past the worker's timeout: a failure to the worker, and sent
            # again. On a busy machine the worker's thread may run only after
            # the late answer came and take it as in time; either way this
            # receiver has the event.
            time.sleep(STALL)
        return 200, {}, b""

    wsgi = make_app(database, **SETTINGS)
    config = write_config(tmp_path / "worker.ini", database)
    try:
        with receiver(unreliable) as (url, _rec):
            secret = TestApp(wsgi).post_json("/api/v1/webhooks/", {"url": url},
                                             headers=tenant.headers, status=201).json["secret"]
            began = time.monotonic()
            make_events(wsgi.registry, tenant.id, monkeypatch)
            total = TRACKERS * EVENTS_PER_TRACKER
            with database.admin_engine.connect() as conn:
                assert conn.scalar(sa.text("SELECT count(*) FROM webhook_deliveries")) == total
            written = time.monotonic()
            first = start_worker(config)
            # A bound for a machine under load, not a speed target: ~20-50 s it takes.
            deadline = time.monotonic() + 240
            while len(successes) < total * 0.4:
                assert time.monotonic() < deadline and first.poll() is None, first.stdout
                time.sleep(0.01)
            first.send_signal(signal.SIGKILL)
            first.wait(5)
            killed = time.monotonic()
            second = start_worker(config)
            try:
                while delivered_count(database) < total:
                    assert time.monotonic() < deadline, "not every event was delivered"
                    assert second.poll() is None, second.stdout.read()
                    time.sleep(0.05)
            finally:
                second.send_signal(signal.SIGTERM)
                out, _ = second.communicate(timeout=10)
            done = time.monotonic()
            assert second.returncode == 0 and "stopped" in out, out
    finally:
        wsgi.registry["db.engine"].dispose()

    verifier = Webhook(secret)
    for *_, request in successes:
        verifier.verify(request.body, request.headers)
    assert len({event_id for _, _, event_id, _ in successes}) == total
    by_tracker = defaultdict(list)
    for tracker_id, sequence, _, _ in successes:
        by_tracker[tracker_id].append(sequence)
    assert len(by_tracker) == TRACKERS
    for sequences in by_tracker.values():
        assert sequences == sorted(sequences), sequences  # repeats allowed, never out of order
        assert len(set(sequences)) == EVENTS_PER_TRACKER
    print(f"\n[{database.kind}] {total} events over {TRACKERS} trackers delivered in "
          f"{attempts[0]} attempts; {len(successes) - total} duplicates (stalled answers, and "
          f"what the killed worker had not recorded, sent again); events written in "
          f"{written - began:.1f} s, delivered in {done - written:.1f} s (killed after "
          f"{killed - written:.1f} s)")


def test_the_worker_refuses_bad_settings_in_one_line(tmp_path):
    config = tmp_path / "bad.ini"
    config.write_text("[app:main]\nuse = egg:tracee\n"
                      f"sqlalchemy.url = sqlite:///{tmp_path / 'x.sqlite'}\n"
                      "tracee.webhooks.timeout = soon\n")
    done = subprocess.run([sys.executable, "-m", "tracee.cli.main", "-c", str(config), "worker"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "tracee.webhooks" in done.stderr, done.stderr
