"""Delivery by the worker to a real local receiver, verified with the
Standard Webhooks reference library (standardwebhooks), not our own code."""

import email
import email.policy
import json
import threading
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from conftest import make_app, make_settings
from standardwebhooks import Webhook
from webhook_receiver import receiver
from webtest import TestApp

from tracee.accounts.service import add_membership, create_user
from tracee.worker import Worker

FAST = {
    "tracee.webhooks.allow_private_targets": "true",
    "tracee.webhooks.allow_http": "true",
    "tracee.webhooks.retry_delays": "0.05 0.05 0.05",
    "tracee.webhooks.jitter": "0",
    "tracee.webhooks.poll_seconds": "0.02",
    "tracee.webhooks.timeout": "0.5",
    "tracee.webhooks.claim_seconds": "2",
    "tracee.ratelimit.api": "100000/minute",  # its limiter outlives a test
}


@pytest.fixture(scope="module")
def hooks_wsgi(database):
    wsgi = make_app(database, **FAST)
    yield wsgi
    wsgi.registry["db.engine"].dispose()


@pytest.fixture
def api(hooks_wsgi, tenant):
    client = TestApp(hooks_wsgi, extra_environ={"HTTP_X_API_KEY": tenant.key})
    client.tenant = tenant
    return client


@pytest.fixture
def worker(database):
    @contextmanager
    def start(**overrides):
        loop = Worker(make_settings(database, **{**FAST, **overrides}))
        thread = threading.Thread(target=loop.run, daemon=True)
        thread.start()
        try:
            yield loop
        finally:
            loop.stop()
            thread.join(10)
            assert not thread.is_alive(), "the worker did not stop"

    return start


def until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def queue_states(database) -> list:
    with database.admin_engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT state FROM webhook_deliveries"))]


def all_finished(database):
    states = queue_states(database)
    return bool(states) and all(s in ("delivered", "failed", "paused") for s in states)


def subscribe(api, url, **body):
    return api.post_json("/api/v1/webhooks/", {"url": url, **body}, status=201).json


def tracker_with_events(api):
    """A tracker with four events: created, two status changes, completed."""
    tracker = api.post_json("/api/v1/trackers/", {"name": "Order #77 - Lamp",
                                                  "template": "3d-printing"}, status=201).json
    started = api.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                            {"process": "3D Printing", "action": "start"}).json
    finished = api.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                             {"process": "Ready for Shipping", "action": "complete"}).json
    return tracker, started, finished


def test_every_delivery_verifies_and_shows_the_tracker_as_it_was(api, worker, database):
    with receiver() as (url, rec):
        secret = subscribe(api, url)["secret"]
        created, started, finished = tracker_with_events(api)
        with worker():
            until(lambda: len(rec.received) == 4)
    verifier = Webhook(secret)
    bodies = [verifier.verify(r.body, r.headers) for r in rec.received]
    assert [b["type"] for b in bodies] == [
        "tracker.created", "tracker.status_changed", "tracker.status_changed",
        "tracker.completed"]
    assert [b["data"]["sequence"] for b in bodies] == sorted(b["data"]["sequence"]
                                                           for b in bodies)
    first, start, complete, done = (b["data"] for b in bodies)
    assert first["tracker"] == created and "change" not in first
    assert start["tracker"] == started
    assert start["change"] == {"process": "3D Printing", "action": "start",
                               "status": "in_progress"}
    assert complete["change"] == {"process": "Ready for Shipping", "action": "complete",
                                  "status": "completed"}
    assert complete["tracker"] == finished and done["tracker"] == finished
    for r in rec.received:
        assert r.headers["user-agent"] == "Tracee-Webhooks/1"
        assert r.headers["content-type"] == "application/json"
        assert r.headers["webhook-signature"].startswith("v1,")
        assert abs(int(r.headers["webhook-timestamp"]) - time.time()) < 60
    assert len({r.id for r in rec.received}) == 4
    log = api.get(f"/api/v1/webhooks/{1}/deliveries/").json
    assert [a["response_status"] for a in log] == [200] * 4
    assert {a["event_id"] for a in log} == {r.id for r in rec.received}
    assert all(a["response_body"] == "thanks" and a["next_attempt_at"] is None for a in log)


def test_a_tampered_body_does_not_verify(api, worker):
    from standardwebhooks.webhooks import WebhookVerificationError

    with receiver() as (url, rec):
        secret = subscribe(api, url)["secret"]
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        with worker():
            until(lambda: rec.received)
    sent = rec.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(sent.body.replace(b'"x"', b'"y"'), sent.headers)


def test_failures_are_retried_with_the_same_id_and_order_is_kept(api, worker, database):
    def flaky(n, request):
        return (500, {}, b"do\x00wn\xff") if n <= 2 else (200, {}, b"")

    with receiver(flaky) as (url, rec):
        secret = subscribe(api, url)["secret"]
        tracker_with_events(api)
        with worker():
            until(lambda: all_finished(database))
    verifier = Webhook(secret)
    sequences = [verifier.verify(r.body, r.headers)["data"]["sequence"] for r in rec.received]
    assert rec.received[0].id == rec.received[1].id == rec.received[2].id  # one event, 3 tries
    assert sequences == sorted(sequences) and len(set(sequences)) == 4
    log = api.get("/api/v1/webhooks/1/deliveries/").json
    first = sorted((a for a in log if a["event_id"] == rec.received[0].id),
                   key=lambda a: a["attempt"])
    assert [(a["attempt"], a["response_status"]) for a in first] == [(1, 500), (2, 500), (3, 200)]
    assert first[0]["error"] == "HTTP 500" and first[0]["response_body"] == "do\ufffdwn\ufffd"
    assert first[0]["next_attempt_at"] is not None and first[2]["next_attempt_at"] is None


def test_a_delivery_is_given_up_after_the_last_delay_and_the_next_goes(api, worker, database):
    def first_event_fails(_n, request):
        body = json.loads(request.body)
        return (500, {}, b"") if body["type"] == "tracker.created" else (200, {}, b"")

    with receiver(first_event_fails) as (url, rec):
        hook = subscribe(api, url)
        tracker_with_events(api)
        with worker(**{"tracee.webhooks.retry_delays": "0.02"}):
            until(lambda: all_finished(database))
            types = [json.loads(r.body)["type"] for r in rec.received]
            assert types == ["tracker.created"] * 2 + ["tracker.status_changed"] * 2 + [
                "tracker.completed"]
            assert sorted(queue_states(database)) == ["delivered"] * 3 + ["failed"]
            # A retry by hand sends it once more, now.
            failed = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json[-1]
            api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{failed['delivery_id']}/retry/",
                     status=202)
            until(lambda: len(rec.received) == 6 and all_finished(database))
    assert rec.received[-1].id == failed["event_id"]
    assert sorted(queue_states(database)) == ["delivered"] * 3 + ["failed"]


def test_a_retry_by_hand_brings_a_pending_delivery_forward_on_its_schedule(
        api, worker, database):
    def failing_twice(n, _r):
        return (500, {}, b"") if n <= 2 else (200, {}, b"")

    with receiver(failing_twice) as (url, rec):
        hook = subscribe(api, url)
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        with worker(**{"tracee.webhooks.retry_delays": "3600 3600"}):
            until(lambda: len(api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json) == 1)
            attempt = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json[0]
            path = f"/api/v1/webhooks/{hook['id']}/deliveries/{attempt['delivery_id']}/retry/"
            api.post(path, status=202)  # an hour early; fails again, stays on its schedule
            until(lambda: len(rec.received) == 2)
            until(lambda: len(api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json) == 2)
            assert queue_states(database) == ["pending"]
            api.post(path, status=202)
            until(lambda: queue_states(database) == ["delivered"])
    assert len(rec.received) == 3


def test_redirects_are_not_followed(api, worker, database):
    with receiver() as (private_url, private), receiver(
            lambda n, r: (302, {"Location": private_url}, b"")) as (url, rec):
        hook = subscribe(api, url)
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        with worker(**{"tracee.webhooks.retry_delays": "0.01"}):
            until(lambda: all_finished(database))
    assert len(rec.received) == 2 and private.received == []
    attempt = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json[0]
    assert attempt["response_status"] == 302
    assert attempt["error"] == "redirects are not followed"


def test_410_disables_the_endpoint_and_holds_its_queue(api, worker, database):
    with receiver(lambda n, r: (410, {}, b"")) as (url, rec):
        hook = subscribe(api, url)
        tracker_with_events(api)
        with worker():
            until(lambda: all_finished(database))
    assert len(rec.received) == 1
    shown = api.get(f"/api/v1/webhooks/{hook['id']}/").json
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert sorted(queue_states(database)) == ["failed"] + ["paused"] * 3
    with database.admin_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT disabled_at IS NOT NULL FROM webhook_endpoints")).scalar_one()
    # Enabled again, the held events go, in order.
    with receiver() as (url, rec):
        api.patch_json(f"/api/v1/webhooks/{hook['id']}/", {"url": url, "enabled": True})
        with worker():
            until(lambda: len(rec.received) == 3)
    assert [json.loads(r.body)["data"]["sequence"] for r in rec.received] == sorted(
        json.loads(r.body)["data"]["sequence"] for r in rec.received)


def test_the_owners_are_mailed_once_when_an_endpoint_is_disabled(
        api, worker, database, registry, tmp_path):
    session = registry["db.session_factory"]()
    for address, role in (("owner@shop.test", "owner"), ("staff@shop.test", "staff")):
        add_membership(session, api.tenant.id, create_user(session, address), role)
    session.commit()
    session.close()
    with receiver(lambda n, r: (410, {}, b"")) as (url, rec):
        hook = subscribe(api, url)
        tracker_with_events(api)
        with worker(**{"tracee.mail.directory": str(tmp_path)}):
            until(lambda: all_finished(database) and list(tmp_path.glob("*.eml")))
    [sent] = tmp_path.glob("*.eml")  # the owner only, once
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["To"] == "owner@shop.test"
    text = message.get_body(("plain",)).get_content()
    assert url in text and "410 Gone" in text
    assert f"/api/v1/webhooks/{hook['id']}/" in text
    with database.admin_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT owners_notified_at IS NOT NULL FROM webhook_endpoints")).scalar_one()
    # Enabled again, the mark is cleared for the next time.
    api.patch_json(f"/api/v1/webhooks/{hook['id']}/", {"enabled": True})
    with database.admin_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT owners_notified_at FROM webhook_endpoints")).scalar_one() is None


def test_an_endpoint_failing_for_days_is_disabled(api, worker, database):
    with receiver(lambda n, r: (500, {}, b"")) as (url, rec):
        hook = subscribe(api, url)
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        with worker(**{"tracee.webhooks.retry_delays": "0.3 0.3 0.3 0.3 0.3 0.3",
                       "tracee.webhooks.disable_after_days": str(0.5 / 86400)}):
            until(lambda: not api.get(f"/api/v1/webhooks/{hook['id']}/").json["enabled"])
    shown = api.get(f"/api/v1/webhooks/{hook['id']}/").json
    assert "failed for" in shown["disabled_reason"]
    assert 2 <= len(rec.received) <= 4


def test_retry_after_is_honoured_and_capped(api, worker, database):
    def busy_once(n, _r):
        return (503, {"Retry-After": "86400"}, b"") if n == 1 else (200, {}, b"")

    with receiver(busy_once) as (url, rec):
        subscribe(api, url)
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        stamps = []
        with worker(**{"tracee.webhooks.retry_after_cap": "1"}):
            until(lambda: all_finished(database))
        stamps = [int(r.headers["webhook-timestamp"]) for r in rec.received]
    assert len(rec.received) == 2
    log = api.get("/api/v1/webhooks/1/deliveries/").json
    waited = (sa_time(log[0]["attempted_at"]) - sa_time(log[1]["attempted_at"]))
    assert 0.9 <= waited <= 3.5  # the cap (1 s), not the schedule (0.05 s) nor a day
    assert stamps[1] - stamps[0] <= 3


def sa_time(iso):
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_after_rotation_both_secrets_verify(api, worker):
    with receiver() as (url, rec):
        hook = subscribe(api, url)
        rotated = api.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret/").json
        queued = api.post(f"/api/v1/webhooks/{hook['id']}/test/", status=202).json
        with worker():
            until(lambda: rec.received)
    sent = rec.received[0]
    assert len(sent.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], rotated["secret"]):
        body = Webhook(secret).verify(sent.body, sent.headers)
    assert body["type"] == "webhook.test" and sent.id == queued["event_id"]


def test_finished_deliveries_are_purged_after_keep_days(api, worker, database):
    with receiver() as (url, rec):
        subscribe(api, url)
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        with worker():
            until(lambda: all_finished(database))
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE webhook_deliveries SET finished_at = :t"),
                     {"t": "2000-01-01 00:00:00+00:00"})
    with worker():
        time.sleep(0.1)
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM webhook_deliveries")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM webhook_attempts")) == 0


def test_a_slow_purge_does_not_hold_up_deliveries(api, worker, database, monkeypatch):
    # Purging old Idempotency-Key answers takes a transaction per tenant.
    release = threading.Event()
    monkeypatch.setattr(Worker, "purge", lambda self: release.wait(30))
    with receiver() as (url, rec):
        subscribe(api, url)
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        with worker():
            try:
                until(lambda: all_finished(database))
            finally:
                release.set()
    assert len(rec.received) == 1


def test_workers_side_by_side_share_the_queue_without_doubles(api, worker, database):
    with receiver() as (url, rec):
        secret = subscribe(api, url)["secret"]
        for n in range(8):
            tracker = api.post_json("/api/v1/trackers/", {"name": f"Order #{n + 1}"},
                                    status=201).json
            for step in range(1, 4):
                api.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                              {"process": f"Step {step}", "action": "start"})
        with worker(**{"tracee.webhooks.concurrency": "3"}), worker(
                **{"tracee.webhooks.concurrency": "3"}):
            until(lambda: len(rec.received) >= 32 and all_finished(database))
    bodies = [Webhook(secret).verify(r.body, r.headers)["data"] for r in rec.received]
    assert len(bodies) == 32 and len({r.id for r in rec.received}) == 32
    for tracker_id in {b["tracker"]["id"] for b in bodies}:
        sequences = [b["sequence"] for b in bodies if b["tracker"]["id"] == tracker_id]
        assert sequences == sorted(sequences) and len(sequences) == 4


def test_the_schedule_has_jitter_and_an_end():
    from tracee.webhooks.config import WebhookSettings
    from tracee.webhooks.delivery import next_delay

    settings = WebhookSettings(retry_delays=(10.0, 100.0), jitter=0.2, retry_after_cap=50.0)
    firsts = {next_delay(settings, 1, None) for _ in range(50)}
    assert all(8 <= d <= 12 for d in firsts) and len(firsts) > 1
    assert all(80 <= next_delay(settings, 2, None) <= 120 for _ in range(20))
    assert next_delay(settings, 3, None) is None  # given up after the last delay
    assert next_delay(settings, 1, 40.0) == 40.0  # never sooner than Retry-After
    assert next_delay(settings, 1, 9999.0) == 50.0  # which is capped
    assert 8 <= next_delay(settings, 1, 1.0) <= 12


def test_stopping_finishes_the_delivery_under_way(api, worker, database):
    arrived = threading.Event()

    def slow(_n, _r):
        arrived.set()
        time.sleep(0.3)
        return 200, {}, b""

    with receiver(slow) as (url, rec):
        subscribe(api, url)
        api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
        with worker():
            assert arrived.wait(10)
        # The context stopped the worker while the receiver was still answering.
    assert queue_states(database) == ["delivered"] and len(rec.received) == 1


def test_stopping_releases_the_claims_waiting_their_turn(api, worker, database):
    arrived = threading.Event()

    def slow(_n, _r):
        arrived.set()
        time.sleep(0.3)
        return 200, {}, b""

    with receiver(slow) as (url, rec):
        subscribe(api, url)
        for n in range(3):  # three trackers: their events may go side by side
            api.post_json("/api/v1/trackers/", {"name": f"x{n}"}, status=201)
        with worker(**{"tracee.webhooks.concurrency": "1"}):
            assert arrived.wait(10)
    with database.admin_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT state, claim_token, claimed_until FROM webhook_deliveries ORDER BY state"
        )).all()
    # One sent; one claimed beside it to wait its turn, now given back at once.
    assert [r.state for r in rows] == ["delivered", "pending", "pending"]
    assert all(r.claim_token is None and r.claimed_until is None for r in rows)
    assert len(rec.received) == 1


def test_each_event_shows_the_tracker_as_get_showed_it_then(api, worker):
    """Rebuilt from the audit trail: steps added on the fly, and rework."""
    shown = []  # (tracker id, GET after the change)
    with receiver() as (url, rec):
        secret = subscribe(api, url, events=["tracker.created", "tracker.status_changed"])["secret"]
        free = api.post_json("/api/v1/trackers/", {"name": "Custom job"}, status=201).json
        shown.append(free)
        made = api.post_json("/api/v1/trackers/", {"name": "Vase", "template": "3d-printing"},
                             status=201).json
        shown.append(made)
        for tracker, process, action in ((free, "Cut", "start"), (free, "Glue", "start"),
                                         (made, "3D Printing", "start"),
                                         (made, "Packaging", "complete"),
                                         (made, "3D Printing", "start")):
            shown.append(api.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                                       {"process": process, "action": action}).json)
        with worker():
            until(lambda: len(rec.received) == len(shown))
    sent = [Webhook(secret).verify(r.body, r.headers)["data"] for r in rec.received]
    for tracker_id in (free["id"], made["id"]):
        assert [d["tracker"] for d in sent if d["tracker"]["id"] == tracker_id] == [
            t for t in shown if t["id"] == tracker_id]
    rework = [d for d in sent if d["tracker"]["id"] == made["id"]][-1]
    assert rework["change"] == {"process": "3D Printing", "action": "start",
                                "status": "in_progress"}


def test_the_pipelined_path_sends_and_records_what_the_session_path_would(api, database):
    from tracee.webhooks import delivery, pipelined

    loop = Worker(make_settings(database, **FAST))
    # PostgreSQL takes the one-round-trip path; SQLite has no pipeline.
    assert loop.pipelined == (database.kind == "postgresql")
    subscribe(api, "http://127.0.0.1:9/hooks")
    tracker_with_events(api)
    with loop.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        claimed = delivery.claim(conn, loop.hooks, 10)
    assert [c.event_type for c in claimed] == ["tracker.created"]
    first = claimed[0]
    with loop.sessions() as session:
        expected = delivery.prepare(session, loop.box, loop.urls, first)
        session.rollback()
    if not loop.pipelined:
        loop.engine.dispose()
        return
    lost = delivery.Claimed(**{**first.__dict__, "token": "0" * 32})
    fast, nothing = pipelined.prepare(loop.engine, loop.box, loop.urls, [first, lost])
    assert fast == expected
    assert nothing is None
    # A failure is recorded in the batch too, and starts the endpoint's failing streak.
    assert pipelined.record(loop.engine, loop.hooks,
                            [(first, fast, delivery.Outcome(500, 3, "HTTP 500", "no"))]) == []
    with database.admin_engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT d.state, d.attempts, d.claim_token, d.next_attempt_at IS NOT NULL, "
            "a.status, a.error, a.response_body, a.next_attempt_at IS NOT NULL, "
            "e.failing_since IS NOT NULL FROM webhook_deliveries d "
            "JOIN webhook_attempts a ON a.delivery_id = d.id "
            "JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = :id"),
            {"id": first.id}).one()
    assert tuple(row) == ("pending", 1, None, True, 500, "HTTP 500", "no", True, True)
    again = []

    def claimed_again():
        with loop.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            again.extend(delivery.claim(conn, loop.hooks, 10))
        return again

    until(claimed_again)  # once the retry delay has passed
    second = next(c for c in again if c.id == first.id)
    failing = pipelined.prepare(loop.engine, loop.box, loop.urls, [second])[0]
    assert failing.failing_since is not None
    # A success ends the streak; a 410 (which disables the endpoint) is left to the Session.
    gone = (second, failing, delivery.Outcome(410, 2, "HTTP 410"))
    assert pipelined.record(loop.engine, loop.hooks,
                            [(second, failing, delivery.Outcome(204, 7)), gone]) == [gone]
    with database.admin_engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT d.state, d.attempts, d.claim_token, a.status, a.duration_ms, a.event_id, "
            "e.failing_since FROM webhook_deliveries d JOIN webhook_attempts a "
            "ON a.delivery_id = d.id AND a.number = 2 "
            "JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = :id"),
            {"id": first.id}).one()
    assert tuple(row) == ("delivered", 2, None, 204, 7, first.event_id, None)
    # A claim no longer held writes no attempt, and leaves the endpoint alone.
    assert pipelined.record(loop.engine, loop.hooks,
                            [(lost, fast, delivery.Outcome(500, 1, "HTTP 500"))]) == []
    with database.admin_engine.connect() as conn:
        attempts = conn.execute(sa.text("SELECT count(*) FROM webhook_attempts")).scalar()
        failing_since = conn.execute(sa.text(
            "SELECT failing_since FROM webhook_endpoints")).scalar()
    assert failing_since is None
    assert attempts == 2
    loop.engine.dispose()


def test_a_batch_is_claimed_prepared_and_recorded_as_the_session_path_would(api, database):
    from tracee.webhooks import delivery, pipelined

    if database.kind != "postgresql":
        pytest.skip("the pipelined path is PostgreSQL's")
    loop = Worker(make_settings(database, **FAST))
    subscribe(api, "http://127.0.0.1:9/hooks")
    tracker_with_events(api)
    tracker_with_events(api)
    claimed, ready = pipelined.claim_and_prepare(loop.engine, loop.hooks, loop.box, loop.urls,
                                                 10)
    # The first event of each tracker; the next wait until it is recorded.
    assert [c.event_type for c in claimed] == ["tracker.created"] * 2
    for one, outgoing in zip(claimed, ready, strict=True):
        with loop.sessions() as session:
            assert outgoing == delivery.prepare(session, loop.box, loop.urls, one)
            session.rollback()
    # One batch: a success that leaves the endpoint's streak alone (an
    # executemany) and a failure that starts it (a record and its endpoint's update).
    ok, failed = claimed
    assert pipelined.record(loop.engine, loop.hooks, [
        (failed, ready[1], delivery.Outcome(500, 3, "HTTP 500")),
        (ok, ready[0], delivery.Outcome(200, 2)),
    ]) == []
    with database.admin_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT d.id, d.state, d.claim_token, a.status, a.event_id FROM webhook_deliveries d "
            "JOIN webhook_attempts a ON a.delivery_id = d.id ORDER BY d.id")).all()
        failing_since = conn.execute(sa.text(
            "SELECT failing_since FROM webhook_endpoints")).scalar()
    assert sorted(tuple(r) for r in rows) == sorted([
        (ok.id, "delivered", None, 200, ok.event_id),
        (failed.id, "pending", None, 500, failed.event_id)])
    assert failing_since is not None
    loop.engine.dispose()


def test_a_connection_keeps_its_cursors_and_each_place_in_a_batch_its_own(api, database):
    from tracee.webhooks import delivery, pipelined

    if database.kind != "postgresql":
        pytest.skip("the pipelined path is PostgreSQL's")
    loop = Worker(make_settings(database, **FAST))
    subscribe(api, "http://127.0.0.1:9/hooks")
    for _ in range(3):
        tracker_with_events(api)

    def kept():
        pooled = loop.engine.raw_connection()
        try:
            return pooled.driver_connection, pooled.info[pipelined._CURSORS]
        finally:
            pooled.close()

    def claim_and_prepare(limit):
        claimed, ready = pipelined.claim_and_prepare(loop.engine, loop.hooks, loop.box,
                                                     loop.urls, limit)
        # Each place in the batch read through its own cursors: had two shared
        # one, the earlier would show the later's tracker.
        for one, outgoing in zip(claimed, ready, strict=True):
            with loop.sessions() as session:
                assert outgoing == delivery.prepare(session, loop.box, loop.urls, one)
                session.rollback()
        return claimed, ready

    claimed, ready = claim_and_prepare(10)
    assert len(claimed) == 3
    conn, cursors = kept()
    held = cursors("held", 0)
    assert len({id(cursors("held", place)) for place in range(3)}) == 3
    done = [(one, outgoing, delivery.Outcome(200, 1))
            for one, outgoing in zip(claimed, ready, strict=True)]
    assert pipelined.record(loop.engine, loop.hooks, done) == []
    # The next batch, smaller, on the same connection: the same cursors, and
    # the places left over from the larger batch do not leak into it.
    again, ready = claim_and_prepare(2)
    assert [c.event_type for c in again] == ["tracker.status_changed"] * 2
    assert {c.tracker_id for c in again} < {c.tracker_id for c in claimed}
    assert kept() == (conn, cursors) and cursors("held", 0) is held
    loop.engine.dispose()


def test_each_delivery_of_a_batch_is_read_under_its_own_tenant(
        api, other_tenant, hooks_wsgi, database):
    """A batch is prepared in one transaction: each delivery's claim check binds
    its tenant before its reads. A lost claim between two tenants' deliveries
    gives nothing, and the delivery after it still reads its own tenant's rows."""
    from tracee.webhooks import delivery, pipelined

    if database.kind != "postgresql":
        pytest.skip("the pipelined path is PostgreSQL's")
    other = TestApp(hooks_wsgi, extra_environ={"HTTP_X_API_KEY": other_tenant.key})
    loop = Worker(make_settings(database, **FAST))
    subscribe(api, "http://127.0.0.1:9/acme")
    subscribe(other, "http://127.0.0.1:9/globex")
    api.post_json("/api/v1/trackers/", {"name": "Acme vase"}, status=201)
    other.post_json("/api/v1/trackers/", {"name": "Globex gear"}, status=201)
    with loop.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        claimed = {c.tenant_id: c for c in delivery.claim(conn, loop.hooks, 10)}
    acme, globex = claimed[api.tenant.id], claimed[other_tenant.id]
    expected = {}
    for one in (acme, globex):
        with loop.sessions() as session:
            expected[one.id] = delivery.prepare(session, loop.box, loop.urls, one)
            session.rollback()

    def lost(one):
        return delivery.Claimed(**{**one.__dict__, "token": "0" * 32})

    ready = pipelined.prepare(loop.engine, loop.box, loop.urls,
                              [acme, lost(globex), globex, lost(acme)])
    assert ready == [expected[acme.id], None, expected[globex.id], None]
    assert ready[0].url.endswith("/acme") and b"Acme vase" in ready[0].body
    assert ready[2].url.endswith("/globex") and b"Globex gear" in ready[2].body
    loop.engine.dispose()
