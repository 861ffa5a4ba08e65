"""/api/v1/webhooks/: endpoints, secrets shown once, bad input, tenant isolation."""

import base64

import pytest
import sqlalchemy as sa

from tracee.webhooks.models import TRACKER_EVENTS

URL = "https://hooks.example.com/tracee"


@pytest.fixture
def hook(app, tenant):
    def create(**body):
        return app.post_json("/api/v1/webhooks/", {"url": URL, **body}, headers=tenant.headers,
                             status=201).json

    return create


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """hooks.example.com resolves to a public address, without the network."""
    import socket

    real = socket.getaddrinfo

    def fake(host, port, *args, **kw):
        if host.endswith("example.com"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_create_shows_the_secret_once(app, tenant, hook):
    created = hook(description="ERP")
    assert created["events"] == list(TRACKER_EVENTS)
    assert created["url"] == URL and created["description"] == "ERP" and created["enabled"]
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret[len("whsec_"):])) <= 64
    shown = app.get(f"/api/v1/webhooks/{created['id']}/", headers=tenant.headers).json
    listed = app.get("/api/v1/webhooks/", headers=tenant.headers).json
    assert "secret" not in shown and all("secret" not in e for e in listed)
    assert [e["id"] for e in listed] == [created["id"]]


def test_secrets_are_encrypted_at_rest(database, hook):
    secret = hook()["secret"]
    with database.admin_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret FROM webhook_endpoints")).scalar_one()
    assert secret not in stored and secret[len("whsec_"):] not in stored


def test_patch_and_delete(app, tenant, hook):
    created = hook()
    path = f"/api/v1/webhooks/{created['id']}/"
    changed = app.patch_json(path, {"events": ["tracker.completed"], "enabled": False,
                                    "description": "later"}, headers=tenant.headers).json
    assert changed["events"] == ["tracker.completed"]
    assert changed["enabled"] is False and changed["description"] == "later"
    assert changed["disabled_reason"]
    app.delete(path, headers=tenant.headers, status=204)
    app.get(path, headers=tenant.headers, status=404)


def test_rotation_returns_a_new_secret(app, tenant, hook):
    created = hook()
    rotated = app.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/",
                       headers=tenant.headers).json
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "not a url"}, "url"),
    ({"url": "ftp://hooks.example.com/"}, "url"),
    ({"url": "http://hooks.example.com/"}, "url"),  # https only unless allow_http
    ({"url": "https://hooks.example.com/" + "x" * 2000}, "url"),
    ({"url": 5}, "url"),
    ({"url": "https://[::1"}, "url"),
    ({"url": "https://hooks.example.com:99999/"}, "url"),
    ({"url": "https://hooks.example.com:0/"}, "url"),
    ({"url": "https://hooks.example.com/a b"}, "url"),
    ({"url": " https://hooks.example.com/"}, "url"),
    ({"url": "https:///path-only"}, "url"),
    ({"url": "https://no-such-host.invalid/"}, "url"),
    ({"url": "https://" + "a" * 300 + ".example/"}, "url"),
    ({}, "url"),
    ({"url": URL, "events": ["tracker.deleted"]}, "events.0"),
    ({"url": URL, "events": []}, "events"),
    ({"url": URL, "events": "tracker.created"}, "events"),
    ({"url": URL, "events": None}, "events"),
    ({"url": URL, "description": "a\u200bb"}, "description"),
    ({"url": URL, "events": ["tracker.created", "tracker.created"]}, "events"),
    ({"url": URL, "description": "x" * 501}, "description"),
    ({"url": URL, "description": "a\x00b"}, "description"),
])
def test_bad_input_is_a_400_naming_the_field(app, tenant, body, field):
    answer = app.post_json("/api/v1/webhooks/", body, headers=tenant.headers, status=400)
    assert answer.content_type == "application/json"
    assert answer.json["status"] == "error"
    assert [e["name"] for e in answer.json["errors"]] == [field]


def test_a_non_list_of_events_is_named_for_what_it_is(app, tenant):
    answer = app.post_json("/api/v1/webhooks/", {"url": URL, "events": None},
                           headers=tenant.headers, status=400)
    assert answer.json["errors"][0]["description"] == "must be a list of event names"


def test_a_description_is_kept_in_one_spelling(app, tenant, hook):
    created = hook(description="  Cafe\u0301 orders ")
    assert created["description"] == "Caf\u00e9 orders"


def test_a_bad_patch_changes_nothing(app, tenant, hook):
    created = hook()
    path = f"/api/v1/webhooks/{created['id']}/"
    app.patch_json(path, {"url": "https://127.0.0.1/", "description": "x"},
                   headers=tenant.headers, status=400)
    assert app.get(path, headers=tenant.headers).json == {
        k: v for k, v in created.items() if k != "secret"}


def test_another_tenants_endpoint_is_not_found(app, tenant, other_tenant, hook):
    created = hook()
    base = f"/api/v1/webhooks/{created['id']}"
    other = other_tenant.headers
    for method, path in (("get", "/"), ("patch", "/"), ("delete", "/"), ("post", "/test/"),
                         ("post", "/rotate-secret/"), ("get", "/deliveries/")):
        kw = {"params": "{}", "content_type": "application/json"} if method == "patch" else {}
        answer = getattr(app, method)(base + path, headers=other, status=404, **kw)
        assert answer.json["errors"][0]["name"] == "id"
    app.post(f"{base}/deliveries/1/retry/", headers=other, status=404)
    assert app.get("/api/v1/webhooks/", headers=other).json == []
    assert app.get(base + "/", headers=tenant.headers).status_code == 200


def test_retry_of_an_unknown_delivery_is_a_404(app, tenant, hook):
    created = hook()
    answer = app.post(f"/api/v1/webhooks/{created['id']}/deliveries/999/retry/",
                      headers=tenant.headers, status=404)
    assert answer.json["errors"][0]["name"] == "delivery_id"


def test_the_delivery_log_is_paginated(app, tenant, hook):
    created = hook()
    answer = app.get(f"/api/v1/webhooks/{created['id']}/deliveries/?per_page=10",
                     headers=tenant.headers)
    assert answer.json == [] and answer.headers["X-Total-Count"] == "0"
    assert 'rel="first"' in answer.headers["Link"]
    app.get(f"/api/v1/webhooks/{created['id']}/deliveries/?per_page=0", headers=tenant.headers,
            status=400)


def test_a_status_update_queues_one_delivery_per_subscribed_endpoint(
        app, tenant, other_tenant, hook, create, database):
    everything = hook()
    completed_only = hook(events=["tracker.completed"])
    app.post_json("/api/v1/webhooks/", {"url": URL}, headers=other_tenant.headers, status=201)
    tracker = create()
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "3D Printing", "action": "start"}, headers=tenant.headers)
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "3D Printing", "action": "start"}, headers=tenant.headers)  # no-op
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "Ready for Shipping", "action": "complete"}, headers=tenant.headers)
    with database.admin_engine.connect() as conn:
        queued = conn.execute(sa.text(
            "SELECT tenant_id, endpoint_id, event_type FROM webhook_deliveries "
            "ORDER BY endpoint_id, seq")).all()
    assert queued == [
        (tenant.id, everything["id"], "tracker.created"),
        (tenant.id, everything["id"], "tracker.status_changed"),
        (tenant.id, everything["id"], "tracker.status_changed"),
        (tenant.id, everything["id"], "tracker.completed"),
        (tenant.id, completed_only["id"], "tracker.completed"),
    ]
    app.delete(f"/api/v1/webhooks/{everything['id']}/", headers=tenant.headers, status=204)
    with database.admin_engine.connect() as conn:  # its queue went with it
        assert conn.scalar(sa.text("SELECT count(*) FROM webhook_deliveries")) == 1


def test_a_refused_request_queues_nothing(app, tenant, hook, database):
    hook()
    app.post_json("/api/v1/trackers/", {"name": "x", "template": "nope"}, headers=tenant.headers,
                  status=400)
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM webhook_deliveries")) == 0


def test_a_subscribed_endpoint_adds_no_statement_to_a_status_update(
        app, make_tenant, registry, database):
    """The deliveries are queued by the database as the events are written:
    the request sends exactly the statements it sends without webhooks."""
    plain, hooked = make_tenant("plain"), make_tenant("hooked")
    app.post_json("/api/v1/webhooks/", {"url": URL}, headers=hooked.headers, status=201)
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    def statements_of_an_update(handle):
        tracker = app.post_json("/api/v1/trackers/", {"name": "x", "template": "3d-printing"},
                                headers=handle.headers, status=201).json
        seen.clear()
        sa.event.listen(registry["db.engine"], "before_cursor_execute", record)
        try:
            app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                          {"process": "Ready for Shipping", "action": "complete"},
                          headers=handle.headers)
        finally:
            sa.event.remove(registry["db.engine"], "before_cursor_execute", record)
        return list(seen)

    assert statements_of_an_update(hooked) == statements_of_an_update(plain)
    with database.admin_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT event_type FROM webhook_deliveries ORDER BY id")).scalars().all() == [
            "tracker.created", "tracker.status_changed", "tracker.completed"]


def test_a_tenant_has_a_bounded_number_of_endpoints(app, tenant, other_tenant, hook):
    from tracee.webhooks.endpoints import MAX_ENDPOINTS

    ids = [hook()["id"] for _ in range(MAX_ENDPOINTS)]
    assert ids == list(range(1, MAX_ENDPOINTS + 1))
    refused = app.post_json("/api/v1/webhooks/", {"url": URL}, headers=tenant.headers,
                            status=409)
    assert "at most" in refused.json["errors"][0]["description"]
    app.post_json("/api/v1/webhooks/", {"url": URL}, headers=other_tenant.headers, status=201)
    app.delete(f"/api/v1/webhooks/{ids[0]}/", headers=tenant.headers, status=204)
    hook()


def test_the_document_shows_a_secret_only_where_one_is_given(app):
    spec = app.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]

    def answer(path, method, status):
        return spec["paths"][path][method]["responses"][status]["content"][
            "application/json"]["schema"]

    with_secret = {"$ref": "#/components/schemas/WebhookWithSecret"}
    assert answer("/webhooks/", "post", "201") == with_secret
    assert answer("/webhooks/{id}/rotate-secret/", "post", "200") == with_secret
    assert "secret" in schemas["WebhookWithSecret"]["required"]
    assert "secret" not in schemas["Webhook"]["properties"]
    assert answer("/webhooks/{id}/", "get", "200") == {"$ref": "#/components/schemas/Webhook"}
    assert "content" not in spec["paths"]["/webhooks/{id}/"]["delete"]["responses"]["204"]
    create = spec["paths"]["/webhooks/"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"]["required"] == ["url"]
    assert create["schema"]["properties"]["events"]["items"]["enum"] == list(TRACKER_EVENTS)
