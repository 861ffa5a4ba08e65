"""Agencies: a key acting for a client with Tracee-Tenant, and /clients/."""

import pytest
import sqlalchemy as sa
from test_isolation import call

AGENCY, CLIENT, SIBLING, NESTED = "agency", "client-a", "client-b", "client-a-sub"
UNRELATED = "loner"


@pytest.fixture
def tree(make_tenant):
    """agency > client-a > client-a-sub, agency > client-b, and loner on its own."""
    made = {AGENCY: make_tenant(AGENCY, "Agency")}
    made[CLIENT] = make_tenant(CLIENT, "Client A", parent=AGENCY)
    made[SIBLING] = make_tenant(SIBLING, "Client B", parent=AGENCY)
    made[NESTED] = make_tenant(NESTED, "Client A Sub", parent=CLIENT)
    made[UNRELATED] = make_tenant(UNRELATED, "Loner")
    return made


def as_(tree, key_owner, named=None):
    headers = dict(tree[key_owner].headers)
    if named is not None:
        headers["Tracee-Tenant"] = named
    return headers


# (whose key, the tenant it names, allowed)
ISOLATION = [
    (AGENCY, CLIENT, True),
    (AGENCY, NESTED, True),  # any depth below the agency
    (AGENCY, SIBLING, True),
    (AGENCY, AGENCY, True),  # its own slug: the same as no header
    (CLIENT, NESTED, True),  # a client may be an agency in turn
    (CLIENT, CLIENT, True),
    (CLIENT, SIBLING, False),
    (CLIENT, AGENCY, False),  # never upwards
    (NESTED, CLIENT, False),
    (NESTED, AGENCY, False),
    (SIBLING, NESTED, False),
    (UNRELATED, CLIENT, False),
    (AGENCY, UNRELATED, False),
    (AGENCY, "no-such-tenant", False),
    (AGENCY, "Not A Slug", False),
    (AGENCY, "", False),
]


@pytest.mark.parametrize(("owner", "named", "allowed"), ISOLATION,
                         ids=[f"{o}->{n or 'empty'}" for o, n, _ in ISOLATION])
def test_a_key_acts_only_for_itself_and_the_tenants_below_it(app, tree, owner, named, allowed):
    # The named tenant owns a tracker no one else has: it proves whose data is served.
    app.post_json("/api/v1/trackers/", {"name": f"Secret of {named}"},
                  headers=tree[named].headers if named in tree else tree[AGENCY].headers)
    for method, path, body in [("GET", "/api/v1/trackers/", None),
                               ("POST", "/api/v1/trackers/", {"name": "Order #7"}),
                               ("GET", "/api/v1/trackers/1/", None)]:
        response = call(app, method, path, body, as_(tree, owner, named))
        if allowed:
            assert response.status_int in (200, 201), (method, path, response.body)
        else:
            assert response.status_int == 404
            [error] = response.json["errors"]
            assert (error["location"], error["name"]) == ("header", "Tracee-Tenant")
            assert named not in error["description"] or not named
    if allowed:
        listed = app.get("/api/v1/trackers/", headers=as_(tree, owner, named)).json
        assert {t["name"] for t in listed} == {f"Secret of {named}", "Order #7"}


def test_data_written_for_a_client_is_the_clients(app, tree, database):
    created = app.post_json("/api/v1/trackers/", {"name": "Vase #1"},
                            headers=as_(tree, AGENCY, CLIENT), status=201).json
    assert [t["name"] for t in app.get("/api/v1/trackers/", headers=as_(tree, CLIENT)).json] \
        == ["Vase #1"]
    assert app.get("/api/v1/trackers/", headers=as_(tree, AGENCY)).json == []
    assert app.get("/api/v1/trackers/", headers=as_(tree, SIBLING)).json == []
    app.post_json(f"/api/v1/trackers/{created['id']}/status/",
                  {"process": "3D Printing", "action": "start"},
                  headers=as_(tree, AGENCY, CLIENT), status=200)
    with database.admin_engine.connect() as conn:
        owners = conn.execute(sa.text("SELECT tenant_id FROM trackers")).scalars().all()
    assert owners == [tree[CLIENT].id]


def test_idempotency_keys_are_the_clients(app, tree):
    headers = {"Idempotency-Key": "same-key"}
    for client in (CLIENT, SIBLING):
        first = app.post_json("/api/v1/trackers/", {"name": "Same body"},
                              headers={**as_(tree, AGENCY, client), **headers}, status=201)
        assert "Idempotent-Replayed" not in first.headers
    replay = app.post_json("/api/v1/trackers/", {"name": "Same body"},
                           headers={**as_(tree, AGENCY, CLIENT), **headers}, status=201)
    assert replay.headers["Idempotent-Replayed"] == "true"
    for client in (CLIENT, SIBLING):
        assert len(app.get("/api/v1/trackers/", headers=as_(tree, client)).json) == 1


def test_the_rate_limit_stays_the_keys(app, make_tenant):
    make_tenant(AGENCY, "Agency", rate_limit="2/minute")
    agency = make_tenant("agency-two", "Agency Two", rate_limit="2/minute")
    make_tenant("c1", parent="agency-two")
    make_tenant("c2", parent="agency-two")
    app.get("/api/v1/trackers/", headers={**agency.headers, "Tracee-Tenant": "c1"}, status=200)
    app.get("/api/v1/trackers/", headers={**agency.headers, "Tracee-Tenant": "c2"}, status=200)
    app.get("/api/v1/trackers/", headers={**agency.headers, "Tracee-Tenant": "c1"}, status=429)


def test_no_header_costs_no_query_and_the_header_one(app, tree, registry):
    statements = []
    engine = registry["db.engine"]
    app.get("/api/v1/trackers/", headers=as_(tree, AGENCY))  # last_used_at written now, not below

    def count(*_args):
        statements.append(_args[2])

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        app.get("/api/v1/trackers/", headers=as_(tree, AGENCY))
        plain = len(statements)
        statements.clear()
        app.get("/api/v1/trackers/", headers=as_(tree, AGENCY, CLIENT))
        acting = len(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert acting == plain + 1


# --- /clients/ --------------------------------------------------------------------


def test_clients_are_listed_with_their_activity(app, tree):
    app.post_json("/api/v1/trackers/", {"name": "Open"}, headers=as_(tree, AGENCY, CLIENT))
    done = app.post_json("/api/v1/trackers/", {"name": "Done", "template": "3d-printing"},
                         headers=as_(tree, AGENCY, CLIENT)).json
    app.post_json(f"/api/v1/trackers/{done['id']}/status/",
                  {"process": "Ready for Shipping", "action": "complete"},
                  headers=as_(tree, AGENCY, CLIENT))
    listed = app.get("/api/v1/clients/", headers=as_(tree, AGENCY)).json
    assert [c["slug"] for c in listed] == [CLIENT, SIBLING]  # direct clients only
    assert listed[0]["open_trackers"] == 1 and listed[0]["last_activity_at"].endswith("Z")
    assert listed[1]["open_trackers"] == 0 and listed[1]["last_activity_at"] is None
    assert app.get("/api/v1/clients/", headers=as_(tree, CLIENT)).json[0]["slug"] == NESTED
    assert app.get("/api/v1/clients/", headers=as_(tree, UNRELATED)).json == []
    # The listing visits each client; the request's own tenant is bound again afterwards.
    assert app.get("/api/v1/trackers/", headers=as_(tree, AGENCY)).json == []
    assert app.get(f"/api/v1/clients/{CLIENT}/", headers=as_(tree, AGENCY)).json == listed[0]
    for owner, slug in [(AGENCY, NESTED), (CLIENT, SIBLING), (SIBLING, CLIENT), (AGENCY, "x..")]:
        app.get(f"/api/v1/clients/{slug}/", headers=as_(tree, owner), status=404)


def test_an_agency_creates_a_client_and_acts_for_it(app, tree):
    created = app.post_json("/api/v1/clients/", {"slug": "new-shop", "name": " New Shop ",
                                                 "domain": "track.newshop.example"},
                            headers=as_(tree, AGENCY), status=201)
    assert created.headers["Location"] == "https://tracee.test/api/v1/clients/new-shop/"
    assert created.json["name"] == "New Shop" and created.json["open_trackers"] == 0
    # Served once verified (tests/test_domains.py); until then it waits.
    assert (created.json["domain"], created.json["pending_domain"]) == (
        None, "track.newshop.example")
    assert app.get(created.headers["Location"], headers=as_(tree, AGENCY)).json == created.json
    app.post_json("/api/v1/trackers/", {"name": "First"},
                  headers=as_(tree, AGENCY, "new-shop"), status=201)
    app.get("/api/v1/trackers/", headers=as_(tree, SIBLING, "new-shop"), status=404)


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"slug": "Bad Slug", "name": "X"}, 400, "slug"),
    ({"slug": "ok", "name": ""}, 400, "name"),
    ({"slug": "ok", "name": "a\u200bb"}, 400, "name"),
    ({"slug": "ok", "name": "X", "domain": "not a host"}, 400, "domain"),
    ({"slug": "ok", "name": "X", "domain": "tracee.test"}, 400, "domain"),
    ({"slug": "ok", "name": "X", "domain": "api.tracee.test"}, 400, "domain"),
    ({"slug": CLIENT, "name": "X"}, 409, "slug"),
    ({"slug": "ok", "name": "X", "domain": "taken.example"}, 409, "domain"),
])
def test_a_client_is_validated_like_tenant_create(app, tree, make_tenant, body, status, field):
    make_tenant("holder", domain="taken.example")
    refused = app.post_json("/api/v1/clients/", body, headers=as_(tree, AGENCY), status=status)
    assert refused.json["errors"][0]["name"] == field
    assert app.get("/api/v1/clients/", headers=as_(tree, AGENCY)).json[-1]["slug"] == SIBLING


def test_agencies_nest_three_deep_at_most(app, tree):
    refused = app.post_json("/api/v1/clients/", {"slug": "too-deep", "name": "Deep"},
                            headers=as_(tree, AGENCY, NESTED), status=400).json
    assert "at most 3 levels" in refused["errors"][0]["description"]


def test_a_method_the_path_does_not_serve_is_a_405_whatever_it_names(app, tree):
    response = call(app, "TRACE", "/api/v1/clients/", None, as_(tree, AGENCY, "no-such"))
    assert response.status_int == 405


def test_visiting_a_client_binds_it_and_then_the_agency_again(tree, tenant_session, database):
    from tracee.tenancy.scope import TenantScopeError, bound_tenant, visiting
    from tracee.tracking.models import Tracker, WorkflowTemplate

    session = tenant_session(tree[AGENCY].id)
    session.add(WorkflowTemplate(slug="pending", name="Pending"))
    with pytest.raises(TenantScopeError, match="pending"), visiting(session, tree[CLIENT].id):
        pass
    session.rollback()

    def rls_tenant():
        if database.kind != "postgresql":
            return None
        return session.scalar(sa.text("SELECT current_setting('app.tenant_id', true)"))

    session.scalar(sa.select(sa.func.count()).select_from(Tracker))
    with visiting(session, tree[CLIENT].id):
        assert bound_tenant(session) == tree[CLIENT].id
        assert rls_tenant() == (str(tree[CLIENT].id) if database.kind == "postgresql" else None)
    assert bound_tenant(session) == tree[AGENCY].id
    assert rls_tenant() == (str(tree[AGENCY].id) if database.kind == "postgresql" else None)
