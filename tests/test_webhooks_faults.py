"""A bounded fault test: a receiver failing half the attempts and stalling
some past the timeout, and the worker process SIGKILLed mid-run and
restarted. Every event arrives at least once and each tracker's in order.

300 events over 30 trackers (10 each), so that it runs in seconds per database.
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
from tracee.tracking.workflow import Actor, apply_action, create_tracker, tracker_for_update

TRACKERS, EVENTS_PER_TRACKER = 30, 10
SETTINGS = {
    "tracee.webhooks.allow_private_targets": "true",
    "tracee.webhooks.allow_http": "true",
    "tracee.webhooks.retry_delays": " ".join(["0.01"] * 40),
    "tracee.webhooks.jitter": "0.5",
    "tracee.webhooks.timeout": "0.25",
    "tracee.webhooks.claim_seconds": "1",
    "tracee.webhooks.poll_seconds": "0.02",
    "tracee.webhooks.concurrency": "8",
}
ACTOR = Actor("test")


def write_config(path, database):
    lines = ["[app:main]", "use = egg:tracee", f"sqlalchemy.url = {database.app_url}",
             "tracee.public_url = https://tracee.test"]
    lines += [f"{name} = {value}" for name, value in SETTINGS.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_worker(config):
    return subprocess.Popen([sys.executable, "-m", "tracee.cli.main", "-c", str(config), "worker"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def make_events(registry, tenant_id):
    for n in range(TRACKERS):
        session = registry["db.session_factory"]()
        try:
            bind_tenant(session, tenant_id)
            tracker = create_tracker(session, tenant_id, f"Order #{n + 1}", ACTOR)
            session.commit()
            for step in range(1, EVENTS_PER_TRACKER):
                locked = tracker_for_update(session, tracker.id)
                apply_action(session, locked, f"Step {step}", "start", ACTOR)
                session.commit()
        finally:
            session.close()


def delivered_count(database) -> int:
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text(
            "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"))


def test_nothing_is_lost_when_receivers_fail_and_workers_die(database, tenant, tmp_path):
    chance, lock = random.Random(20261202), threading.Lock()
    successes = []  # (tracker id, sequence, webhook-id, request), as the worker saw them

    def unreliable(_n, request):
        with lock:
            roll = chance.random()
        if roll < 0.5:
            return 500, {}, b"failing"
        if roll < 0.55:
            time.sleep(0.4)  # past the worker's timeout: not a success
            return 200, {}, b""
        data = json.loads(request.body)["data"]
        with lock:
            successes.append((data["tracker"]["id"], data["sequence"], request.id, request))
        return 200, {}, b""

    wsgi = make_app(database, **SETTINGS)
    config = write_config(tmp_path / "worker.ini", database)
    try:
        with receiver(unreliable) as (url, _rec):
            secret = TestApp(wsgi).post_json("/api/v1/webhooks/", {"url": url},
                                             headers=tenant.headers, status=201).json["secret"]
            make_events(wsgi.registry, tenant.id)
            total = TRACKERS * EVENTS_PER_TRACKER
            first = start_worker(config)
            deadline = time.monotonic() + 30
            while len(successes) < total * 0.4:
                assert time.monotonic() < deadline and first.poll() is None, first.stdout
                time.sleep(0.01)
            first.send_signal(signal.SIGKILL)
            first.wait(5)
            second = start_worker(config)
            try:
                while delivered_count(database) < total:
                    assert time.monotonic() < deadline + 30, "not every event was delivered"
                    assert second.poll() is None, second.stdout.read()
                    time.sleep(0.05)
            finally:
                second.send_signal(signal.SIGTERM)
                out, _ = second.communicate(timeout=10)
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
    print(f"\n[{database.kind}] {total} events delivered; {len(successes) - total} duplicates "
          "(sent again after the worker was killed)")


def test_the_worker_refuses_bad_settings_in_one_line(tmp_path):
    config = tmp_path / "bad.ini"
    config.write_text("[app:main]\nuse = egg:tracee\n"
                      f"sqlalchemy.url = sqlite:///{tmp_path / 'x.sqlite'}\n"
                      "tracee.webhooks.timeout = soon\n")
    done = subprocess.run([sys.executable, "-m", "tracee.cli.main", "-c", str(config), "worker"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "tracee.webhooks" in done.stderr, done.stderr
