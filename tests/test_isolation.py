"""Tenant isolation: another tenant's objects are not found, keys are checked and
stored only hashed, and the ORM scope keeps every query inside its tenant.
"""

import hashlib
import json
import re
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from tracee.api.keys import generate_key, issue_key
from tracee.cli.main import main as cli
from tracee.tenancy.scope import TenantScopeError, bind_tenant
from tracee.tracking.models import (
    Tracker,
    TrackerEvent,
    TrackerStep,
    WorkflowTemplate,
)
from tracee.tracking.workflow import Actor, create_tracker

STATUS_BODY = {"process": "3D Printing", "action": "start"}
SECRET_TEMPLATE = {
    "slug": "secret-flow", "name": "Acme's secret flow",
    "steps": [{"name": "Mix the secret sauce"}, {"name": "Bottle", "visible": False}],
}

# Every endpoint of the API: (method, path, JSON body). {id} and {slug} are
# filled with the first tenant's tracker id and template slug.
ENDPOINTS = [
    ("GET", "/api/v1/trackers/", None),
    ("POST", "/api/v1/trackers/", {"name": "Order #1"}),
    ("GET", "/api/v1/trackers/{id}/", None),
    ("POST", "/api/v1/trackers/{id}/status/", STATUS_BODY),
    ("GET", "/api/v1/trackers/{id}/qr/", None),
    ("GET", "/api/v1/templates/", None),
    ("POST", "/api/v1/templates/", {**SECRET_TEMPLATE, "slug": "fresh-flow"}),
    ("GET", "/api/v1/templates/{slug}/", None),
]
ENDPOINT_IDS = [f"{m} {p}" for m, p, _ in ENDPOINTS]


def call(app, method, path, body=None, headers=None, **kw):
    if body is None:
        return app.request(path, method=method, headers=headers or {}, expect_errors=True, **kw)
    return app.request(
        path, method=method, body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})}, expect_errors=True, **kw,
    )


def row_counts(database) -> dict:
    tables = ("trackers", "tracker_steps", "tracker_events", "tracking_links",
              "workflow_templates", "template_steps", "api_keys", "tenants")
    with database.admin_engine.connect() as conn:
        return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables}


@pytest.fixture
def acme(app, tenant, create):
    """The first tenant: trackers 1..3 and its own template; probes aim at tracker 3."""
    trackers = [create(name=f"Acme order #{n}") for n in (101, 102, 103)]
    app.post_json("/api/v1/templates/", SECRET_TEMPLATE, headers=tenant.headers, status=201)
    tenant.tracker = trackers[-1]
    return tenant


@pytest.fixture
def globex(app, other_tenant):
    """The second tenant has one tracker, id 1: it has no tracker with acme's probed id."""
    own = app.post_json("/api/v1/trackers/", {"name": "Globex order #9", "template": "3d-printing"},
                        headers=other_tenant.headers, status=201).json
    assert own["id"] == 1
    other_tenant.tracker = own
    return other_tenant


def fill(path, acme):
    return path.format(id=acme.tracker["id"], slug=SECRET_TEMPLATE["slug"])


def assert_error(response, status, name, location):
    assert response.status_int == status, response.text[:300]
    assert response.content_type == "application/json"
    body = response.json
    assert body["status"] == "error"
    assert [(e["location"], e["name"]) for e in body["errors"]] == [(location, name)]
    return body["errors"][0]["description"]


# -- another tenant's objects are not found ---------------------------------

@pytest.mark.parametrize(
    "method, path, body",
    [e for e in ENDPOINTS if "{id}" in e[1]],
    ids=[i for i, e in zip(ENDPOINT_IDS, ENDPOINTS, strict=True) if "{id}" in e[1]],
)
def test_other_tenants_tracker_is_404_like_a_missing_one(app, database, acme, globex, method,
                                                         path, body):
    tracker_id = acme.tracker["id"]
    before = row_counts(database)
    foreign = call(app, method, fill(path, acme), body, globex.headers)
    said = assert_error(foreign, 404, "id", "path")
    assert row_counts(database) == before
    # indistinguishable from an id that exists nowhere: ids cannot be probed
    missing = call(app, method, path.format(id=9999), body, globex.headers)
    assert said.replace(str(tracker_id), "N") == assert_error(missing, 404, "id", "path").replace(
        "9999", "N")
    assert acme.tracker["name"] not in foreign.text
    # and the owner still gets it
    assert call(app, method, fill(path, acme), body, acme.headers).status_int == 200


def test_other_tenants_tracker_is_404_on_qr_with_query_key(app, acme, globex):
    path = f"/api/v1/trackers/{acme.tracker['id']}/qr/?api_key={globex.key}"
    assert_error(app.get(path, expect_errors=True), 404, "id", "path")
    own = app.get(f"/api/v1/trackers/{acme.tracker['id']}/qr/?api_key={acme.key}")
    assert own.content_type == "image/png"


def test_status_update_on_other_tenants_tracker_changes_nothing(app, database, acme, globex):
    path = f"/api/v1/trackers/{acme.tracker['id']}/status/"
    before = app.get(acme.tracker["api_url"], headers=acme.headers).json
    for action in ("start", "complete"):
        response = app.post_json(path, {"process": "Ready for Shipping", "action": action},
                                 headers=globex.headers, expect_errors=True)
        assert_error(response, 404, "id", "path")
    assert app.get(acme.tracker["api_url"], headers=acme.headers).json == before
    # globex's own tracker 1 was not touched either
    mine = app.get(f"/api/v1/trackers/{globex.tracker['id']}/", headers=globex.headers).json
    assert mine["current_process"] is None and mine["name"] == "Globex order #9"


def test_listing_shows_only_own_trackers(app, acme, globex):
    listed = app.get("/api/v1/trackers/", headers=globex.headers)
    assert [t["name"] for t in listed.json] == ["Globex order #9"]
    assert listed.headers["X-Total-Count"] == "1"
    for q in ("Acme", "103", "#103", "order"):
        found = app.get("/api/v1/trackers/", {"q": q}, headers=globex.headers)
        assert all(t["name"].startswith("Globex") for t in found.json), q
        assert int(found.headers["X-Total-Count"]) == len(found.json)
    assert app.get("/api/v1/trackers/", headers=acme.headers).headers["X-Total-Count"] == "3"


def test_other_tenants_template_is_404_and_unusable(app, database, acme, globex):
    slug = SECRET_TEMPLATE["slug"]
    assert_error(app.get(f"/api/v1/templates/{slug}/", headers=globex.headers,
                         expect_errors=True), 404, "slug", "path")
    assert slug not in [t["slug"] for t in
                        app.get("/api/v1/templates/", headers=globex.headers).json]
    before = row_counts(database)
    refused = app.post_json("/api/v1/trackers/", {"name": "x", "template": slug},
                            headers=globex.headers, expect_errors=True)
    assert "unknown template" in assert_error(refused, 400, "template", "body")
    assert row_counts(database) == before
    # the owner sees it
    assert app.get(f"/api/v1/templates/{slug}/", headers=acme.headers).json["name"] == (
        SECRET_TEMPLATE["name"])


def test_template_slugs_are_per_tenant(app, acme, globex):
    slug = SECRET_TEMPLATE["slug"]
    theirs = {"slug": slug, "name": "Globex flow", "steps": [{"name": "Weld"}]}
    app.post_json("/api/v1/templates/", theirs, headers=globex.headers, status=201)
    assert app.get(f"/api/v1/templates/{slug}/", headers=globex.headers).json["name"] == (
        "Globex flow")
    mine = app.get(f"/api/v1/templates/{slug}/", headers=acme.headers).json
    assert [s["name"] for s in mine["steps"]] == ["Mix the secret sauce", "Bottle"]


def test_tracker_ids_are_allocated_per_tenant(app, acme, globex):
    second = app.post_json("/api/v1/trackers/", {"name": "Globex order #10"},
                           headers=globex.headers, status=201).json
    assert second["id"] == 2
    # both tenants now have a tracker 2, each sees its own
    assert app.get("/api/v1/trackers/2/", headers=globex.headers).json["name"] == (
        "Globex order #10")
    assert app.get("/api/v1/trackers/2/", headers=acme.headers).json["name"] == "Acme order #102"


# -- keys -------------------------------------------------------------------

def _bad_checksum():
    key = generate_key()
    return key[:-1] + ("A" if key[-1] != "A" else "B")


CREDENTIALS = {
    "missing": None,
    "empty": "",
    "blank": "   ",
    "malformed": "tk_live_123",
    "wrong-prefix": "sk_test_" + generate_key()[8:],
    "bad-checksum": _bad_checksum(),
    "non-base62": "tk_live_" + "é" * 32 + "AAAAAA",
    "bearer-scheme": "Bearer " + generate_key(),
    "unknown": generate_key(),  # well-formed, valid checksum, never issued
    "sql": "' OR 1=1 --",
}


@pytest.mark.parametrize("credential", [*CREDENTIALS, "revoked"])
@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=ENDPOINT_IDS)
def test_bad_credentials_get_401_json(app, database, acme, method, path, body, credential):
    if credential == "revoked":
        with database.admin_engine.begin() as conn:
            conn.execute(sa.text("UPDATE api_keys SET revoked_at = :now WHERE id = :id"),
                         {"now": datetime.now(UTC), "id": acme.key_id})
        secret = acme.key
    else:
        secret = CREDENTIALS[credential]
    headers = {} if secret is None else {"X-API-Key": secret}
    before = row_counts(database)
    response = call(app, method, fill(path, acme), body, headers)
    description = assert_error(response, 401, "X-API-Key", "header")
    assert "API key" in description
    assert response.headers["WWW-Authenticate"] == 'APIKey header="X-API-Key"'
    assert "X-RateLimit-Remaining" not in response.headers
    assert row_counts(database) == before


def test_missing_and_invalid_keys_are_told_apart(app):
    missing = app.get("/api/v1/trackers/", expect_errors=True).json["errors"][0]["description"]
    invalid = app.get("/api/v1/trackers/", headers={"X-API-Key": generate_key()},
                      expect_errors=True).json["errors"][0]["description"]
    assert "required" in missing and "not valid" in invalid


def test_query_string_key_is_accepted_only_for_the_qr_image(app, acme):
    tracker_id = acme.tracker["id"]
    for path in ("/api/v1/trackers/", f"/api/v1/trackers/{tracker_id}/", "/api/v1/templates/"):
        response = app.get(path, {"api_key": acme.key}, expect_errors=True)
        assert_error(response, 401, "X-API-Key", "header")
    app.get(f"/api/v1/trackers/{tracker_id}/qr/", {"api_key": acme.key}, status=200)


@pytest.fixture
def ini_for(tmp_path):
    def write(database):
        ini = tmp_path / "tracee.ini"
        url = database.app_url.replace("%", "%%")
        ini.write_text(textwrap.dedent(f"""\
            [app:main]
            use = egg:tracee
            sqlalchemy.url = {url}
            tracee.public_url = https://tracee.test
            """))
        return str(ini)

    return write


def test_key_revoked_with_the_cli_stops_working_at_once(app, database, acme, ini_for, capsys):
    for method, path, body in ENDPOINTS:
        assert call(app, method, fill(path, acme), body, acme.headers).status_int in (200, 201)
    assert cli(["-c", ini_for(database), "key", "revoke", acme.slug, str(acme.key_id)]) == 0
    assert f"revoked key {acme.key_id}" in capsys.readouterr().out
    for method, path, body in ENDPOINTS:
        response = call(app, method, fill(path, acme), body, acme.headers)
        assert_error(response, 401, "X-API-Key", "header")
        assert "WWW-Authenticate" in response.headers


def test_revoking_one_key_leaves_the_tenants_other_keys_working(app, registry, acme):
    session = registry["db.session_factory"]()
    spare = issue_key(session, acme.id, "spare")
    session.commit()
    session.close()
    with registry["db.engine"].begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET revoked_at = :now WHERE id = :id"),
                     {"now": datetime.now(UTC), "id": acme.key_id})
    app.get("/api/v1/trackers/", headers=acme.headers, status=401)
    listed = app.get("/api/v1/trackers/", headers={"X-API-Key": spare.secret}, status=200)
    assert len(listed.json) == 3


def test_keys_are_stored_only_as_sha256(database, acme, globex):
    with database.admin_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM api_keys ORDER BY id")).mappings().all()
    assert len(rows) == 2
    for handle in (acme, globex):
        secret = handle.key
        body = secret[8:-6]  # the random part
        (row,) = [r for r in rows if r["id"] == handle.key_id]
        assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        for stored in (r for r in rows for r in r.values()):
            text = str(stored)
            assert secret not in text and body not in text
            assert body[:12] not in text and body[-12:] not in text
        assert row["display_prefix"] == secret[:12] and row["last4"] == secret[-4:]


def test_api_responses_never_echo_the_key(app, acme):
    for method, path, body in ENDPOINTS:
        response = call(app, method, fill(path, acme), body, acme.headers)
        assert acme.key.encode() not in response.body
        assert acme.key not in str(response.headers)


def _last_used(database, key_id):
    with database.admin_engine.connect() as conn:
        value = conn.scalar(sa.text("SELECT last_used_at FROM api_keys WHERE id = :id"),
                            {"id": key_id})
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def test_last_used_at_is_recorded(app, database, tenant, other_tenant):
    assert _last_used(database, tenant.key_id) is None
    start = datetime.now(UTC) - timedelta(seconds=1)
    app.get("/api/v1/templates/", headers=tenant.headers)
    used = _last_used(database, tenant.key_id)
    assert used is not None and start <= used <= datetime.now(UTC) + timedelta(seconds=1)
    assert _last_used(database, other_tenant.key_id) is None  # only the key that was used
    # a stale value is refreshed on the next use
    stale = datetime.now(UTC) - timedelta(days=3)
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET last_used_at = :t WHERE id = :id"),
                     {"t": stale, "id": tenant.key_id})
    app.get("/api/v1/trackers/", headers=tenant.headers)
    assert _last_used(database, tenant.key_id) >= start


# -- the ORM scope ------------------------------------------------------------

@pytest.fixture
def seeded(registry, tenant, other_tenant):
    """Three trackers for the first tenant, one for the other, made through the domain."""
    for owner, names in ((tenant, ("A1", "A2", "A3")), (other_tenant, ("B1",))):
        session = registry["db.session_factory"]()
        bind_tenant(session, owner.id)
        for name in names:
            create_tracker(session, owner.id, name, Actor("test"), template="3d-printing")
        session.commit()
        session.close()
    return tenant, other_tenant


UNBOUND_QUERIES = {
    "select-entity": lambda: select(Tracker),
    "select-column": lambda: select(Tracker.name),
    "count-over-subquery": lambda: select(func.count()).select_from(select(Tracker).subquery()),
    "count-select-from": lambda: select(func.count()).select_from(TrackerStep),
    "scalar-subquery": lambda: select(select(func.count(TrackerEvent.seq)).scalar_subquery()),
    "cte": lambda: select(func.count()).select_from(select(Tracker.id).cte()),
    "alias": lambda: select(aliased(Tracker)),
    "template": lambda: select(WorkflowTemplate),
    "update": lambda: update(Tracker).values(name="x"),
    "delete": lambda: sa.delete(TrackerStep),
}


@pytest.mark.parametrize("query", UNBOUND_QUERIES)
def test_unbound_session_cannot_touch_tenant_data(db_session, seeded, query):
    with pytest.raises(TenantScopeError, match="without a tenant bound"):
        db_session.execute(UNBOUND_QUERIES[query]())


def test_unbound_session_get_and_add_raise(db_session, seeded):
    tenant, _ = seeded
    with pytest.raises(TenantScopeError):
        db_session.get(Tracker, (tenant.id, 1))
    db_session.add(Tracker(id=99, number=99, name="stray", event_seq=0))
    with pytest.raises(TenantScopeError, match="without a tenant bound"):
        db_session.flush()


def test_unbound_session_still_reads_directory_tables(db_session, seeded):
    from tracee.api.keys import ApiKey
    from tracee.tenancy.models import Tenant

    assert db_session.scalar(select(func.count()).select_from(Tenant)) == 2
    assert db_session.scalar(select(func.count(ApiKey.id))) == 2


def test_bound_session_sees_only_its_tenant(tenant_session, seeded):
    tenant, other = seeded
    session = tenant_session(tenant.id)
    trackers = session.scalars(select(Tracker).order_by(Tracker.id)).all()
    assert [(t.tenant_id, t.name) for t in trackers] == [(tenant.id, n) for n in ("A1", "A2", "A3")]
    assert session.scalar(select(func.count()).select_from(select(Tracker).subquery())) == 3
    assert session.scalar(select(func.count()).select_from(TrackerStep)) == 3 * 6
    assert session.scalar(select(select(func.count(TrackerEvent.seq)).scalar_subquery())) == 3
    assert session.scalar(select(func.count()).select_from(select(Tracker.id).cte())) == 3
    assert len(session.scalars(select(aliased(Tracker))).all()) == 3
    assert {s.tenant_id for s in session.scalars(select(TrackerStep))} == {tenant.id}
    assert session.get(Tracker, (other.id, 1)) is None  # other tenant's tracker 1
    assert session.get(Tracker, (tenant.id, 1)).name == "A1"
    joined = session.execute(
        select(Tracker.name, TrackerStep.name).join(
            TrackerStep, TrackerStep.tracker_id == Tracker.id)
    ).all()
    assert len(joined) == 3 * 6


def test_bound_session_updates_and_deletes_only_its_tenant(registry, database, seeded):
    tenant, other = seeded
    session = registry["db.session_factory"]()
    bind_tenant(session, tenant.id)
    session.execute(update(Tracker).values(name="renamed"))
    session.execute(sa.delete(TrackerEvent))
    session.commit()
    session.close()
    with database.admin_engine.connect() as conn:
        names = dict(conn.execute(
            sa.text("SELECT name, count(*) FROM trackers GROUP BY name")).all())
        events = dict(conn.execute(
            sa.text("SELECT tenant_id, count(*) FROM tracker_events GROUP BY tenant_id")).all())
    assert names == {"renamed": 3, "B1": 1}
    assert events == {other.id: 1}


def test_trackers_are_created_only_for_the_bound_tenant(registry, database, seeded):
    tenant, other = seeded
    with database.admin_engine.connect() as conn:
        before = conn.scalar(sa.text("SELECT count(*) FROM trackers"))
    session = registry["db.session_factory"]()
    try:
        with pytest.raises(TenantScopeError, match="without a tenant"):
            create_tracker(session, tenant.id, "unbound", Actor("test"))
        bind_tenant(session, tenant.id)
        with pytest.raises(TenantScopeError, match="another tenant"):
            create_tracker(session, other.id, "smuggled", Actor("test"), template="3d-printing")
        session.commit()
    finally:
        session.close()
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM trackers")) == before


def test_session_serves_one_tenant(tenant_session, seeded):
    tenant, other = seeded
    session = tenant_session(tenant.id)
    bind_tenant(session, tenant.id)  # the same tenant again is fine
    with pytest.raises(TenantScopeError, match="one tenant"):
        bind_tenant(session, other.id)
    session.add(Tracker(tenant_id=other.id, id=50, number=50, name="smuggled", event_seq=0))
    with pytest.raises(TenantScopeError, match="another tenant"):
        session.flush()


# -- custom domains -------------------------------------------------------------

@pytest.fixture
def branded(app, make_tenant):
    brand = make_tenant("brand", "Brand Co", domain="track.brand.test")
    rival = make_tenant("rival", "Rival Inc")
    brand_tracker = app.post_json("/api/v1/trackers/", {"name": "Brand order", "template":
                                  "3d-printing"}, headers=brand.headers, status=201).json
    rival_tracker = app.post_json("/api/v1/trackers/", {"name": "Rival order", "template":
                                  "3d-printing"}, headers=rival.headers, status=201).json
    return brand_tracker["tracking_token"], rival_tracker["tracking_token"]


PUBLIC_PATHS = ("/track/{token}", "/embed/{token}/", "/track/{token}/qr.png")


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_custom_domain_serves_only_its_tenants_trackers(app, branded, path):
    own, foreign = branded
    host = {"Host": "track.brand.test"}
    served = app.get(path.format(token=own), headers=host, status=200)
    if "qr" not in path:
        assert "Brand order" in served.text
    refused = app.get(path.format(token=foreign), headers=host, status=404)
    assert "text/html" in refused.content_type
    assert "Rival order" not in refused.text
    assert "couldn" in refused.text  # the friendly not-found page
    # case and port in the Host header do not matter
    app.get(path.format(token=own), headers={"Host": "TRACK.Brand.Test:8443"}, status=200)
    app.get(path.format(token=foreign), headers={"Host": "TRACK.Brand.Test:8443"}, status=404)


@pytest.mark.parametrize("host", ["tracee.test", "localhost", "127.0.0.1:6543"])
def test_platform_host_serves_every_tenants_trackers(app, branded, host):
    for token in branded:
        app.get(f"/track/{token}", headers={"Host": host}, status=200)


@pytest.mark.parametrize("host", ["evil\x00.test", "a" * 300 + ".test", "x'; DROP TABLE x; --"])
def test_odd_host_headers_fall_back_to_the_platform(app, branded, host):
    own, _ = branded
    response = app.get(f"/track/{own}", headers={"Host": host}, expect_errors=True)
    assert response.status_int == 200, response.text[:200]
    assert re.search("Brand order", response.text)
