"""PostgreSQL row-level security: the second wall behind the ORM scope.

These tests talk to the database as the application's own role
(``database.app_url``), which is neither superuser nor table owner, in plain
SQL that bypasses the ORM scope entirely: what they see is what the policies
allow. On SQLite there is no row-level security, so they are skipped there.
"""

import pytest
import sqlalchemy as sa
from images import png_bytes
from sqlalchemy.exc import DBAPIError

from tracee.accounts.invitations import invite
from tracee.accounts.service import add_membership, create_user
from tracee.branding.assets import store_asset
from tracee.branding.images import process_upload
from tracee.tenancy.resources import LINK_WITH_TENANTS
from tracee.tenancy.scope import TenantScoped, bind_tenant, read_directory_row
from tracee.tracking.models import Tracker

TENANT_TABLES = ("trackers", "tracker_steps", "tracker_events", "workflow_templates",
                 "template_steps", "idempotency_keys", "memberships", "invitations",
                 "webhook_endpoints", "webhook_attempts", "tenant_themes", "page_templates",
                 "tenant_assets", "mail_subscriptions", "customer_mail_days", "tracker_messages",
                 "tracker_name_suffixes")
# Tables with a tenant_id that are *not* behind RLS, on purpose: they are read
# before the tenant is known (key -> tenant, token -> tracker, the queues of
# webhooks, customer mails and reply mails, which hold ids only).
DIRECTORY_TABLES = {"api_keys", "tracking_links", "webhook_deliveries", "asset_links",
                    "customer_mail_jobs", "message_mails"}


@pytest.fixture
def pg(database):
    if database.kind != "postgresql":
        pytest.skip("row-level security exists only on PostgreSQL")
    return database


@pytest.fixture
def app_engine(pg):
    engine = sa.create_engine(pg.app_url)
    yield engine
    engine.dispose()


@pytest.fixture
def populated(app, pg, registry, tenant, other_tenant):
    """Both tenants own rows in every tenant table (through the API; a
    delivery attempt as the worker would log it)."""
    for handle, names in ((tenant, ("A1", "A2")), (other_tenant, ("B1",))):
        app.post_json("/api/v1/webhooks/", {"url": "https://93.184.216.34/hook"},
                      headers=handle.headers, status=201)
        for name in names:
            created = app.post_json("/api/v1/trackers/", {
                "name": name, "template": "3d-printing",
                "notify_email": f"{name.lower()}@example.test", "notify_email_confirmed": True,
            }, headers=handle.headers, status=201).json
            app.post_json(f"/api/v1/trackers/{created['id']}/status/",
                          {"process": "3D Printing", "action": "start"},
                          headers={**handle.headers, "Idempotency-Key": f"start-{name}"})
            page = app.get(created["tracking_url"].replace("https://tracee.test", ""))
            form = page.forms["ask-form"]
            form["text"] = "A question"
            form.submit(status=303)
        app.post_json("/api/v1/templates/", {
            "slug": f"flow-{handle.slug}", "name": "Flow",
            "steps": [{"name": "One"}, {"name": "Two", "visible": False}],
        }, headers=handle.headers, status=201)
        app.put_json("/api/v1/branding/", {"footer_text": handle.slug}, headers=handle.headers)
        app.put_json("/api/v1/branding/templates/embed", {"source": "<p>{{ tracker.name }}</p>"},
                     headers=handle.headers)
        session = registry["db.session_factory"]()
        bind_tenant(session, handle.id)
        store_asset(session, handle.id, process_upload(png_bytes(handle.slug), "logo"))
        session.commit()
        session.close()
        session = registry["db.session_factory"]()
        owner = create_user(session, f"owner@{handle.slug}.test")
        add_membership(session, handle.id, owner, "owner")
        invite(session, handle.id, f"new@{handle.slug}.test", "staff", owner)
        session.commit()
        session.close()
    with pg.admin_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO webhook_attempts (tenant_id, delivery_id, number, endpoint_id, event_id, "
            "event_type, attempted_at, status, duration_ms) "
            "SELECT tenant_id, id, 1, endpoint_id, 'evt_x', event_type, now(), 200, 5 "
            "FROM webhook_deliveries"))
        conn.execute(sa.text(
            "INSERT INTO customer_mail_days (tenant_id, day, sent, deferred) "
            "SELECT id, current_date, 1, 0 FROM tenants"))
    return tenant, other_tenant


def owner_counts(pg, tenant_id) -> dict:
    """Counts as the superuser sees them (no RLS), for one tenant."""
    with pg.admin_engine.connect() as conn:
        return {
            t: conn.scalar(sa.text(f"SELECT count(*) FROM {t} WHERE tenant_id = :t"),
                           {"t": tenant_id})
            for t in TENANT_TABLES
        }


def visible_counts(conn) -> dict:
    return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TENANT_TABLES}


def set_tenant(conn, tenant_id):
    conn.execute(sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})


def test_the_app_role_is_neither_superuser_nor_owner(app_engine, pg):
    with app_engine.connect() as conn:
        me = conn.scalar(sa.text("SELECT current_user"))
        role = conn.execute(sa.text(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        owners = dict(conn.execute(sa.text(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")).all())
    assert me == "tracee_test_app"
    assert role == (False, False)
    assert set(TENANT_TABLES) <= set(owners)
    assert all(owner != me for owner in owners.values()), owners


def test_rls_is_enabled_and_forced_on_every_tenant_table(app_engine):
    mapped = {cls.__table__.name for cls in _tenant_classes()}
    assert mapped == set(TENANT_TABLES)  # a new tenant table must be added here and migrated
    with app_engine.connect() as conn:
        flags = {
            name: (enabled, forced)
            for name, enabled, forced in conn.execute(sa.text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r'"))
        }
        policies = {
            row.tablename: row for row in conn.execute(sa.text(
                "SELECT tablename, qual, with_check, cmd FROM pg_policies "
                "WHERE schemaname = 'public' AND policyname = 'tenant_isolation'"))
        }
        with_tenant_id = {
            row[0] for row in conn.execute(sa.text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name = 'tenant_id'"))
        }
    for table in TENANT_TABLES:
        assert flags[table] == (True, True), f"{table}: RLS enabled/forced = {flags[table]}"
        policy = policies[table]
        assert policy.cmd == "ALL"
        assert "app.tenant_id" in policy.qual and "app.tenant_id" in policy.with_check
    # every table carrying tenant data is either behind RLS or a known directory table
    assert with_tenant_id - set(TENANT_TABLES) == DIRECTORY_TABLES


def _tenant_classes():
    pending, found = list(TenantScoped.__subclasses__()), []
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "__table__" in vars(cls):
            found.append(cls)
    return found


def test_without_a_tenant_no_rows_are_visible(app_engine, pg, populated):
    tenant, other = populated
    assert all(owner_counts(pg, tenant.id).values())  # there is something to hide
    with app_engine.connect() as conn:
        assert visible_counts(conn) == dict.fromkeys(TENANT_TABLES, 0)
    with app_engine.begin() as conn:  # an empty setting is "no tenant" too
        conn.execute(sa.text("SELECT set_config('app.tenant_id', '', true)"))
        assert visible_counts(conn) == dict.fromkeys(TENANT_TABLES, 0)


@pytest.mark.parametrize("which", ["first", "second"])
def test_with_a_tenant_only_its_rows_are_visible(app_engine, pg, populated, which):
    tenant = populated[0 if which == "first" else 1]
    with app_engine.begin() as conn:
        set_tenant(conn, tenant.id)
        assert visible_counts(conn) == owner_counts(pg, tenant.id)
        for table in TENANT_TABLES:
            owners = conn.scalars(sa.text(f"SELECT DISTINCT tenant_id FROM {table}")).all()
            assert owners == [tenant.id], table


def test_the_mail_trigger_sees_the_changing_tenants_subscribers(pg, populated):
    """It runs as the app's role, under row-level security, in the change's transaction."""
    with pg.admin_engine.connect() as conn:
        queued = conn.execute(sa.text(
            "SELECT tenant_id, count(*) FROM customer_mail_jobs WHERE kind = 'update' "
            "GROUP BY tenant_id ORDER BY tenant_id")).all()
    assert queued == [(populated[0].id, 2), (populated[1].id, 1)]


def test_the_setting_dies_with_the_transaction(app_engine, populated):
    tenant, _ = populated
    with app_engine.connect() as conn:
        with conn.begin():
            set_tenant(conn, tenant.id)
            assert conn.scalar(sa.text("SELECT count(*) FROM trackers")) == 2
        # same connection, next transaction: nothing
        assert conn.scalar(sa.text("SELECT count(*) FROM trackers")) == 0
        conn.rollback()


INSERT_TRACKER = (
    "INSERT INTO trackers (tenant_id, id, number, name, created_at, updated_at, event_seq) "
    "VALUES (:t, :i, :i, 'smuggled', now(), now(), 0)"
)
INSERT_TEMPLATE = (
    "INSERT INTO workflow_templates (tenant_id, slug, name, created_at) "
    "VALUES (:t, 'stolen', 'x', now())"
)


def as_tenant(app_engine, tenant_id, sql, **params):
    """Run one statement in its own transaction as the app role, with app.tenant_id set."""
    with app_engine.connect() as conn, conn.begin():
        if tenant_id is not None:
            set_tenant(conn, tenant_id)
        return conn.execute(sa.text(sql), params).rowcount


def test_insert_for_another_tenant_is_refused(app_engine, pg, populated):
    tenant, other = populated
    before = owner_counts(pg, other.id)
    with pytest.raises(DBAPIError, match="row-level security"):
        as_tenant(app_engine, tenant.id, INSERT_TRACKER, t=other.id, i=500)
    with pytest.raises(DBAPIError, match="row-level security"):
        as_tenant(app_engine, tenant.id, INSERT_TEMPLATE, t=other.id)
    with pytest.raises(DBAPIError, match="row-level security"):
        # and without any tenant, not even for one's own
        as_tenant(app_engine, None, INSERT_TRACKER, t=tenant.id, i=501)
    assert owner_counts(pg, other.id) == before


def test_own_insert_is_allowed(app_engine, pg, populated):
    tenant, _ = populated
    assert as_tenant(app_engine, tenant.id, INSERT_TRACKER, t=tenant.id, i=600) == 1
    assert owner_counts(pg, tenant.id)["trackers"] == 3


def test_rows_cannot_be_moved_to_or_changed_in_another_tenant(app_engine, pg, populated):
    tenant, other = populated
    before = {t.id: owner_counts(pg, t.id) for t in populated}
    with pytest.raises(DBAPIError, match="row-level security"):
        as_tenant(app_engine, tenant.id, "UPDATE trackers SET tenant_id = :o", o=other.id)
    touched = as_tenant(app_engine, tenant.id,
                        "UPDATE trackers SET name = 'x' WHERE tenant_id = :o", o=other.id)
    deleted = as_tenant(app_engine, tenant.id,
                        "DELETE FROM tracker_steps WHERE tenant_id = :o", o=other.id)
    assert (touched, deleted) == (0, 0)
    assert {t.id: owner_counts(pg, t.id) for t in populated} == before
    with pg.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT name FROM trackers WHERE tenant_id = :o"),
                           {"o": other.id}) == "B1"


def test_app_sessions_carry_the_tenant_to_postgres(registry, populated):
    """bind_tenant sets app.tenant_id: raw SQL through a bound session sees one tenant,
    in this transaction and the next, and the pooled connection forgets it after."""
    tenant, other = populated
    session = registry["db.session_factory"]()
    bind_tenant(session, tenant.id)
    raw = sa.text("SELECT count(*) FROM trackers")
    assert session.scalar(raw) == 2
    session.commit()
    assert session.scalar(raw) == 2  # after_begin sets it again for the new transaction
    assert session.get(Tracker, (other.id, 1)) is None
    session.close()
    fresh = registry["db.session_factory"]()
    try:
        assert fresh.scalar(raw) == 0
        assert fresh.scalar(sa.text("SELECT current_setting('app.tenant_id', true)")) in (None, "")
    finally:
        fresh.close()


def _links_of(pg, tenant_id) -> list:
    with pg.admin_engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT token FROM tracking_links WHERE tenant_id = :t"),
                                 {"t": tenant_id}))


def test_a_directory_row_binds_rls_to_its_own_tenant_only(registry, pg, populated):
    """The link lookup sets app.tenant_id as it reads the row; bind_tenant trusts
    that only for the tenant the row named, in the same transaction."""
    tenant, other = populated
    raw = sa.text("SELECT count(*) FROM trackers")
    token = {"token": _links_of(pg, tenant.id)[0]}

    def after_lookup(then):
        """A fresh session: look the link up, do ``then``, count the trackers seen."""
        with registry["db.session_factory"]() as session:
            row = read_directory_row(session, LINK_WITH_TENANTS, token)
            assert (row.tenant_id, row.rls_tenant) == (tenant.id, str(tenant.id))
            then(session)
            return session.scalar(raw)

    assert after_lookup(lambda session: None) == 2  # set by the lookup itself
    assert after_lookup(lambda session: bind_tenant(session, tenant.id)) == 2
    # not the row's tenant: bind_tenant sends set_config
    assert after_lookup(lambda session: bind_tenant(session, other.id)) == 1

    def commit_then_bind(session):
        session.commit()  # the lookup's setting dies with its transaction ...
        bind_tenant(session, tenant.id)  # ... and after_begin sets it for the next

    assert after_lookup(commit_then_bind) == 2


@pytest.fixture
def statements(registry):
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    engine = registry["db.engine"]
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def test_hot_reads_bind_rls_without_a_round_trip_of_their_own(app, pg, populated, statements):
    tenant, _ = populated
    app.get("/api/v1/trackers/1/", headers=tenant.headers, status=200)
    app.get(f"/track/{_links_of(pg, tenant.id)[0]}", status=200)
    assert sum("set_config('app.tenant_id'" in s for s in statements) == 2
    assert not [s for s in statements if s.startswith("SELECT set_config")]
