"""Idempotency-Key: every POST of the API is done at most once per tenant and key."""

import json
import threading
import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from conftest import make_app, make_settings
from live_server import serve
from webob import Request
from webtest import TestApp

from tracee.api.idempotent import fingerprint
from tracee.cli.main import main
from tracee.db import utcnow
from tracee.idempotency.models import IdempotencyKey
from tracee.idempotency.store import (
    StoredAnswer,
    claim,
    keep_period,
    purge_expired,
    remember,
)
from tracee.tenancy.scope import bind_tenant
from tracee.worker import Worker

CREATE = {"name": "Order #7001 - Blue Vase", "template": "3d-printing"}
START = {"process": "3D Printing", "action": "start"}
_keys = IdempotencyKey.__table__


def keyed(tenant, key) -> dict:
    return {**tenant.headers, "Idempotency-Key": key}


def count(database, table, tenant_id=None) -> int:
    where = "" if tenant_id is None else f" WHERE tenant_id = {int(tenant_id)}"
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table}{where}"))


def stored_keys(database) -> list:
    with database.admin_engine.connect() as conn:
        return conn.execute(sa.select(_keys.c.tenant_id, _keys.c.key, _keys.c.created_at)
                            .order_by(_keys.c.tenant_id, _keys.c.key)).all()


def age_keys(database, by: timedelta) -> None:
    """Make every stored key older by ``by``, as the clock would."""
    with database.admin_engine.begin() as conn:
        rows = conn.execute(sa.select(_keys.c.tenant_id, _keys.c.key, _keys.c.created_at)).all()
        for tenant_id, key, created in rows:
            conn.execute(sa.update(_keys).where(_keys.c.tenant_id == tenant_id, _keys.c.key == key)
                         .values(created_at=created - by))


def assert_header_error(response, status, *words):
    assert response.status_int == status, response.text
    assert response.content_type == "application/json"
    assert response.json == {"status": "error", "errors": [
        {"location": "header", "name": "Idempotency-Key",
         "description": response.json["errors"][0]["description"]}]}
    for word in words:
        assert word in response.json["errors"][0]["description"]


# -- replay --------------------------------------------------------------------------------


def test_a_retried_create_gets_the_first_answer_and_makes_nothing(app, tenant, database):
    first = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "order-7001"),
                          status=201)
    assert "Idempotent-Replayed" not in first.headers
    assert first.location == "https://tracee.test/api/v1/trackers/1/"
    again = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "order-7001"),
                          status=201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.location == first.location
    assert again.content_type == "application/json"
    assert again.body == first.body
    assert count(database, "trackers") == 1
    assert count(database, "tracker_events") == 1
    # Answered through the whole API stack: limits and security headers as usual.
    assert again.headers["X-RateLimit-Remaining"] == "98"
    assert again.headers["Cache-Control"] == "no-store"


def test_either_path_form_is_the_same_request(app, tenant, database):
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "k"), status=201)
    again = app.post_json("/api/v1/trackers", CREATE, headers=keyed(tenant, "k"), status=201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(database, "trackers") == 1


def test_a_retried_status_change_replays_the_answer_of_its_time(app, tenant, create, database):
    tracker = create()
    path = f"/api/v1/trackers/{tracker['id']}/status/"
    first = app.post_json(path, START, headers=keyed(tenant, "start-1"), status=200)
    app.post_json(path, {"process": "3D Printing", "action": "complete"},
                  headers=tenant.headers, status=200)
    events = count(database, "tracker_events")
    again = app.post_json(path, START, headers=keyed(tenant, "start-1"), status=200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body == first.body  # the step as it was then, not re-run
    assert count(database, "tracker_events") == events
    now = app.get(f"/api/v1/trackers/{tracker['id']}/", headers=tenant.headers).json
    assert now["history"][-1]["status"] == "completed"


def test_a_retried_template_create_is_no_conflict(app, tenant, database):
    body = {"slug": "glazing", "name": "Glazing", "steps": [{"name": "Dip"}, {"name": "Fire"}]}
    first = app.post_json("/api/v1/templates/", body, headers=keyed(tenant, "tpl"), status=201)
    again = app.post_json("/api/v1/templates/", body, headers=keyed(tenant, "tpl"), status=201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.location, again.body) == (first.location, first.body)
    # without a key, the same request is what it always was
    app.post_json("/api/v1/templates/", body, headers=tenant.headers, status=409)
    assert count(database, "workflow_templates") == 1


# -- refusals ------------------------------------------------------------------------------


def test_the_key_with_another_request_is_a_422(app, tenant, create, database):
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "k1"), status=201)
    other_body = app.post_json("/api/v1/trackers/", {**CREATE, "name": "Another"},
                               headers=keyed(tenant, "k1"), status=422)
    assert_header_error(other_body, 422, "different request")
    other_path = app.post_json("/api/v1/trackers/1/status/", CREATE,
                               headers=keyed(tenant, "k1"), status=422)
    assert_header_error(other_path, 422)
    assert count(database, "trackers") == 1


@pytest.mark.parametrize("value, words", [
    ("", ("empty",)),
    ("x" * 256, ("at most 255",)),
    ("tab\there", ("printable",)),
    (" ", ("printable", "either end")),
    ("nul\x00", ("printable",)),
    ("caf\xe9", ("printable",)),
])
def test_a_malformed_key_is_a_400_naming_the_header(app, tenant, database, value, words):
    response = app.post_json("/api/v1/trackers/", CREATE, headers=tenant.headers,
                             extra_environ={"HTTP_IDEMPOTENCY_KEY": value}, status=400)
    assert_header_error(response, 400, *words)
    assert count(database, "trackers") == 0
    assert stored_keys(database) == []


def test_the_longest_key_is_fine(app, tenant):
    key = "~" * 197 + " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXY"
    assert len(key) == 255
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, key), status=201)
    again = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, key), status=201)
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_refused_request_stores_nothing_and_its_key_stays_usable(app, tenant, create,
                                                                   database):
    create(number=7001)
    refusals = [
        ({"name": ""}, 400),  # the schema
        ({"name": "x", "template": "no-such-template"}, 400),  # the domain
        ({"name": "x", "number": 7001}, 409),  # a conflict
    ]
    for body, status in refusals:
        app.post_json("/api/v1/trackers/", body, headers=keyed(tenant, "reused"), status=status)
    too_big = app.post("/api/v1/trackers/", b"{" + b" " * 70_000 + b"}",
                       headers={**keyed(tenant, "reused"), "Content-Type": "application/json"},
                       status=413)
    assert too_big.json["errors"][0]["location"] == "body"
    app.post_json("/api/v1/trackers/", CREATE, headers={"Idempotency-Key": "reused"}, status=401)
    assert stored_keys(database) == []
    fine = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "reused"),
                         status=201)
    assert "Idempotent-Replayed" not in fine.headers
    assert count(database, "trackers") == 2


def test_keys_are_per_tenant(app, tenant, other_tenant, database):
    for handle in (tenant, other_tenant):
        answer = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(handle, "shared"),
                               status=201)
        assert "Idempotent-Replayed" not in answer.headers
    assert count(database, "trackers", tenant.id) == 1
    assert count(database, "trackers", other_tenant.id) == 1
    # and one tenant's stored answer is never replayed to the other
    again = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(other_tenant, "shared"),
                          status=201)
    assert again.json["tracking_url"] != app.get(
        "/api/v1/trackers/1/", headers=tenant.headers).json["tracking_url"]
    assert [(row.tenant_id, row.key) for row in stored_keys(database)] == sorted(
        [(tenant.id, "shared"), (other_tenant.id, "shared")])


# -- requests without the header -----------------------------------------------------------


def test_a_post_without_the_key_costs_no_query(app, registry, tenant, create):
    sent = []

    def note(_conn, _cursor, statement, *_args):
        sent.append(statement)

    tracker = create()
    sa.event.listen(registry["db.engine"], "before_cursor_execute", note)
    try:
        app.post_json(f"/api/v1/trackers/{tracker['id']}/status/", START, headers=tenant.headers)
        app.post_json("/api/v1/trackers/", CREATE, headers=tenant.headers, status=201)
        assert sent and not [s for s in sent if "idempotency" in s or "advisory" in s]
        app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "k"), status=201)
        assert any("idempotency_keys" in s for s in sent)  # what the check above would see
    finally:
        sa.event.remove(registry["db.engine"], "before_cursor_execute", note)


# -- expiry and purge ----------------------------------------------------------------------


def test_a_key_is_kept_for_the_setting_then_counts_as_new(app, tenant, database):
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "daily"), status=201)
    age_keys(database, timedelta(hours=23, minutes=59))
    kept = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "daily"), status=201)
    assert kept.headers["Idempotent-Replayed"] == "true"
    age_keys(database, timedelta(minutes=2))
    new = app.post_json("/api/v1/trackers/", {**CREATE, "name": "Next day"},
                        headers=keyed(tenant, "daily"), status=201)
    assert "Idempotent-Replayed" not in new.headers
    assert count(database, "trackers") == 2
    [row] = stored_keys(database)
    assert utcnow() - row.created_at < timedelta(minutes=1)  # the new answer replaced the old


def test_the_keep_setting_is_read(database, tenant):
    app = TestApp(make_app(database, **{"tracee.idempotency.keep_hours": "0.5"}))
    try:
        app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "k"), status=201)
        age_keys(database, timedelta(minutes=31))
        again = app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "k"),
                              status=201)
        assert "Idempotent-Replayed" not in again.headers
    finally:
        app.app.registry["db.engine"].dispose()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "a day"])
def test_a_bad_keep_setting_is_refused(value):
    with pytest.raises(ValueError, match="keep_hours"):
        keep_period({"tracee.idempotency.keep_hours": value})


def test_purge_deletes_every_tenants_old_keys_only(app, registry, tenant, other_tenant,
                                                   database):
    for handle in (tenant, other_tenant):
        app.post_json("/api/v1/trackers/", CREATE, headers=keyed(handle, "old"), status=201)
    age_keys(database, timedelta(hours=25))
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "new"), status=201)
    factory, day = registry["db.session_factory"], timedelta(hours=24)
    assert purge_expired(factory, day) == 2  # as the app's role: RLS, one tenant at a time
    assert [(row.tenant_id, row.key) for row in stored_keys(database)] == [(tenant.id, "new")]
    assert purge_expired(factory, day, now=utcnow() + timedelta(hours=23)) == 0
    assert purge_expired(factory, day, now=utcnow() + timedelta(hours=25)) == 1
    assert stored_keys(database) == []
    assert count(database, "trackers") == 3  # the trackers stay


def test_the_worker_purges_old_keys_every_hour(app, tenant, database):
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "old"), status=201)
    age_keys(database, timedelta(hours=3))
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "new"), status=201)
    worker = Worker(make_settings(database, **{"tracee.idempotency.keep_hours": "2"}))
    try:
        worker.purge_now_and_then()
        assert [row.key for row in stored_keys(database)] == ["new"]
        age_keys(database, timedelta(hours=3))
        worker.purge_now_and_then()  # within the hour: not yet
        assert [row.key for row in stored_keys(database)] == ["new"]
    finally:
        worker.engine.dispose()


def test_purge_from_the_command_line(app, tenant, database, tmp_path, capsys):
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "old"), status=201)
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "new"), status=201)
    age_keys(database, timedelta(hours=2))
    app.post_json("/api/v1/trackers/", CREATE, headers=keyed(tenant, "new2"), status=201)
    url = database.app_url.replace("%", "%%")
    ini = tmp_path / "purge.ini"
    ini.write_text(f"[app:main]\nuse = egg:tracee\nsqlalchemy.url = {url}\n"
                   "tracee.idempotency.keep_hours = 1\n")
    assert main(["-c", str(ini), "idempotency", "purge"]) == 0
    assert capsys.readouterr().out == "purged 2 idempotency key(s) older than 1 hours\n"
    assert [row.key for row in stored_keys(database)] == ["new2"]
    ini.write_text(ini.read_text().replace("keep_hours = 1", "keep_hours = soon"))
    assert main(["-c", str(ini), "idempotency", "purge"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "keep_hours must be a positive number" in err


# -- concurrency ---------------------------------------------------------------------------


def test_concurrent_first_uses_of_one_key_make_one_tracker(database, tenant):
    """Many clients send the same keyed create at once, over real HTTP."""
    clients = 12
    barrier = threading.Barrier(clients)
    answers = [None] * clients

    def send(i, url):
        with requests.Session() as session:
            barrier.wait()
            answers[i] = session.post(f"{url}/api/v1/trackers/", json=CREATE, timeout=30,
                                      headers=keyed(tenant, "race"))

    with serve(database) as (url, _app):
        # Once used, the key is not written again for a minute (touch): that
        # write must not be what queues the racers.
        requests.get(f"{url}/api/v1/trackers/", headers=tenant.headers, timeout=30)
        threads = [threading.Thread(target=send, args=(i, url)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    created = [a for a in answers if a.status_code == 201]
    assert len([a for a in created if "Idempotent-Replayed" not in a.headers]) == 1
    assert len({a.content for a in created}) == 1
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["errors"][0]["name"] == "Idempotency-Key"
    if database.kind == "sqlite":  # one writer at a time: every retry waited and replayed
        assert statuses == [201] * clients
    assert count(database, "trackers") == 1
    assert len(stored_keys(database)) == 1


def test_a_retry_while_the_first_runs(app, registry, tenant, database):
    """PostgreSQL answers 409 at once; SQLite, one writer at a time, makes the retry
    wait for the first request's commit and replays its answer."""
    app.get("/api/v1/trackers/", headers=tenant.headers)  # the key's first-use write, done
    body = json.dumps(CREATE).encode()
    digest = fingerprint(Request.blank("/api/v1/trackers/", method="POST"), body)
    holder = registry["db.session_factory"]()  # the first request, still running
    bind_tenant(holder, tenant.id)
    assert claim(holder, "held", digest, utcnow(), timedelta(hours=24)) is None

    def retry():
        return app.post("/api/v1/trackers/", body, expect_errors=True,
                        headers={**keyed(tenant, "held"), "Content-Type": "application/json"})

    def first_ends():
        time.sleep(0.3)
        answer = StoredAnswer(201, "application/json", None, b'{"first": true}')
        remember(holder, "held", digest, answer, utcnow())
        holder.commit()

    started = time.monotonic()
    try:
        if database.kind == "postgresql":
            busy = retry()
            assert time.monotonic() - started < 2  # answered, not queued behind the first
            assert_header_error(busy, 409, "in progress")
            holder.rollback()  # the first request failed: its key was never used
            done = retry()
            assert done.status_int == 201 and "Idempotent-Replayed" not in done.headers
            assert count(database, "trackers") == 1
        else:
            ending = threading.Thread(target=first_ends)
            ending.start()
            waited = retry()
            ending.join()
            assert time.monotonic() - started >= 0.3
            assert waited.status_int == 201 and waited.headers["Idempotent-Replayed"] == "true"
            assert waited.body == b'{"first": true}'
            assert count(database, "trackers") == 0
    finally:
        holder.close()
