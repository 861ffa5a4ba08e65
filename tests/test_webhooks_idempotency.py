"""Idempotency-Key on the webhook POSTs whose answer shows a secret: kept sealed."""

import sqlalchemy as sa
from conftest import make_app
from cryptography.fernet import Fernet
from test_webhooks_api import URL, public_dns  # noqa: F401 (the fixture)
from webtest import TestApp


def stored_bodies(database) -> list[bytes]:
    with database.admin_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT body FROM idempotency_keys")).scalars()
        return [bytes(body) for body in rows]


def assert_sealed(database, secret: str):
    [body] = stored_bodies(database)
    assert body.startswith(b"sealed:")
    for text in (secret, secret.removeprefix("whsec_")):
        assert text.encode() not in body
    assert b'"url"' not in body  # the whole answer is sealed, not just the field


def test_a_created_endpoints_secret_is_stored_sealed_and_replayed(app, tenant, database):
    headers = {**tenant.headers, "Idempotency-Key": "hook-create-1"}
    first = app.post_json("/api/v1/webhooks/", {"url": URL}, headers=headers, status=201)
    assert_sealed(database, first.json["secret"])
    again = app.post_json("/api/v1/webhooks/", {"url": URL}, headers=headers, status=201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and again.location == first.location
    assert len(app.get("/api/v1/webhooks/", headers=tenant.headers).json) == 1


def test_a_rotated_secret_is_stored_sealed_and_replayed(app, tenant, database):
    created = app.post_json("/api/v1/webhooks/", {"url": URL}, headers=tenant.headers).json
    path = f"/api/v1/webhooks/{created['id']}/rotate-secret/"
    headers = {**tenant.headers, "Idempotency-Key": "rotate-1"}
    first = app.post(path, headers=headers).json
    assert_sealed(database, first["secret"])
    again = app.post(path, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first
    assert again.json["secret"] != created["secret"]


def test_other_answers_are_stored_as_they_were(app, tenant, database):
    app.post_json("/api/v1/trackers/", {"name": "Order"}, status=201,
                  headers={**tenant.headers, "Idempotency-Key": "tracker-1"})
    [body] = stored_bodies(database)
    assert body.startswith(b"{")


def test_a_sealed_answer_under_a_retired_key_is_a_clean_409(app, tenant, database):
    headers = {**tenant.headers, "Idempotency-Key": "hook-create-2"}
    app.post_json("/api/v1/webhooks/", {"url": URL}, headers=headers, status=201)
    rekeyed = make_app(database, **{"tracee.webhooks.secret_keys": Fernet.generate_key().decode()})
    try:
        refused = TestApp(rekeyed).post_json("/api/v1/webhooks/", {"url": URL}, headers=headers,
                                             status=409).json
    finally:
        rekeyed.registry["db.engine"].dispose()
    [error] = refused["errors"]
    assert (error["location"], error["name"]) == ("header", "Idempotency-Key")
    assert "can no longer be read" in error["description"]


def test_a_test_events_answer_holds_no_secret_and_stays_in_clear(app, tenant, database):
    created = app.post_json("/api/v1/webhooks/", {"url": URL}, headers=tenant.headers).json
    app.post(f"/api/v1/webhooks/{created['id']}/test/", status=202,
             headers={**tenant.headers, "Idempotency-Key": "test-1"})
    [body] = stored_bodies(database)
    assert body.startswith(b"{")
