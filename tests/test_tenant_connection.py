"""request.reads: keyed reads, tracking pages and embeds without an ORM Session,
in one transaction with the Session a request may need after all."""

import uuid
from contextlib import closing, contextmanager

import psycopg
import pytest
import sqlalchemy as sa
from conftest import make_app
from sqlalchemy.orm import Session
from test_ratelimit import redis_url  # noqa: F401
from test_revocation_epoch import workers  # noqa: F401
from webtest import TestApp

from tracee.tenancy.models import Tenant
from tracee.tenancy.resources import LINK_WITH_TENANTS
from tracee.tenancy.scope import (
    TenantConnection,
    TenantScopeError,
    bind_tenant,
    bound_tenant,
    read_directory_row,
)
from tracee.tracking.models import Tracker
from tracee.tracking.reads import read_tracker

READY = "2031-05-04T12:00:00Z"


class Seen:
    def __init__(self):
        self.statements, self.commits, self.sessions = [], 0, 0

    @property
    def set_configs(self) -> int:
        return sum(1 for s in self.statements if s.startswith("SELECT set_config"))


@contextmanager
def watching(engine):
    """The statements, commits and ORM Session transactions begun meanwhile."""
    seen = Seen()

    def statement(_conn, _cursor, sql, *_):
        seen.statements.append(sql)

    def commit(_conn):
        seen.commits += 1

    def session_begun(*_):
        seen.sessions += 1

    listening = [(engine, "before_cursor_execute", statement), (engine, "commit", commit),
                 (Session, "after_begin", session_begun)]
    for target, name, listener in listening:
        sa.event.listen(target, name, listener)
    try:
        yield seen
    finally:
        for target, name, listener in listening:
            sa.event.remove(target, name, listener)


def _remembered_tracker(worker, tenant, name) -> tuple[dict, str]:
    """A new tracker and its address, read until the worker remembers the key."""
    created = worker.post_json("/api/v1/trackers/", {"name": name, "template": "3d-printing"},
                               headers=tenant.headers, status=201).json
    path = f"/api/v1/trackers/{created['id']}/"
    for _ in range(3):  # the first learns the cache epoch, the second keeps the key
        worker.get(path, headers=tenant.headers, status=200)
    return created, path


def test_a_keyed_read_takes_no_orm_session(workers, tenant, database):  # noqa: F811
    worker = workers[0]
    created, path = _remembered_tracker(worker, tenant, "Order 1")
    with watching(worker.app.registry["db.engine"]) as seen:
        read = worker.get(path, headers=tenant.headers, status=200).json
    assert read["id"] == created["id"] and read["name"] == "Order 1"
    assert seen.sessions == 0 and seen.commits == 1
    # The key was remembered: the tenant is bound by set_config on PostgreSQL, once.
    assert seen.set_configs == (1 if database.kind == "postgresql" else 0)
    assert len(seen.statements) == seen.set_configs + 1


def test_a_write_after_the_key_joins_the_same_transaction(workers, tenant, database):  # noqa: F811
    worker = workers[0]
    created, path = _remembered_tracker(worker, tenant, "Order 2")
    with watching(worker.app.registry["db.engine"]) as seen:
        changed = worker.patch_json(path, {"estimated_ready_at": READY},
                                    headers=tenant.headers, status=200).json
    assert changed["estimated_ready_at"] == READY
    # One Session, one commit, and the tenant set once for both.
    assert seen.sessions == 1 and seen.commits == 1
    assert seen.set_configs == (1 if database.kind == "postgresql" else 0)
    assert worker.get(path, headers=tenant.headers, status=200).json["estimated_ready_at"] == READY


@pytest.mark.parametrize("kind", ["track", "embed"])
def test_pages_take_no_orm_session(app, create, kind):
    token = create()["tracking_token"]
    app.get(f"/{kind}/{token}/", status=200)  # the theme is read once, then kept
    with watching(app.app.registry["db.engine"]) as seen:
        app.get(f"/{kind}/{token}/", status=200)
    assert seen.sessions == 0 and seen.commits == 1
    assert seen.set_configs == 0  # the link's row set the tenant
    assert len(seen.statements) == 2


def test_a_read_of_another_tenants_tracker_finds_none(app, create, other_tenant):
    tracker_id = create()["id"]
    app.get(f"/api/v1/trackers/{tracker_id}/", headers=other_tenant.headers, status=404)


def test_the_session_made_after_shares_connection_tenant_and_transaction(
        registry, tenant, other_tenant, create, database):
    tracker_id = create()["id"]
    # Closed without a commit: rolled back, as the second connection sees.
    with closing(TenantConnection(registry["db.session_factory"])) as reads:
        bind_tenant(reads, tenant.id)
        assert read_tracker(reads, tracker_id).id == tracker_id
        session = reads.session()
        assert session is reads.session() and session.connection() is reads.connection()
        assert bound_tenant(session) == tenant.id
        with pytest.raises(TenantScopeError):
            bind_tenant(session, other_tenant.id)
        with pytest.raises(TenantScopeError):
            bind_tenant(reads, other_tenant.id)  # one binding, whichever is asked
        # The ORM's scope applies, and what the Session writes the reads see.
        session.get(Tracker, (tenant.id, tracker_id)).name = "Renamed"
        session.flush()
        assert read_tracker(reads, tracker_id).name == "Renamed"
        if database.kind == "postgresql":
            setting = reads.connection().execute(sa.text("SELECT current_setting('app.tenant_id')"))
            assert setting.scalar() == str(tenant.id)
    with closing(TenantConnection(registry["db.session_factory"])) as again:
        bind_tenant(again, tenant.id)
        assert read_tracker(again, tracker_id).name != "Renamed"
        assert again.get(Tenant, tenant.id).slug == "acme"  # anything else: the Session's


def test_a_directory_row_binds_row_level_security_for_the_session_after(
        registry, tenant, create, database):
    token = create()["tracking_token"]
    with closing(TenantConnection(registry["db.session_factory"])) as reads:
        with watching(registry["db.engine"]) as seen:
            found = read_directory_row(reads, LINK_WITH_TENANTS, {"token": uuid.UUID(token)})
            bind_tenant(reads, found.tenant_id)
            assert reads.session().get(Tracker, (tenant.id, found.tracker_id)) is not None
        assert seen.set_configs == 0 and seen.sessions == 1



def test_used_again_after_close_it_takes_a_fresh_transaction_bound_alike(
        registry, tenant, create, database):
    tracker_id = create()["id"]
    reads = TenantConnection(registry["db.session_factory"])
    bind_tenant(reads, tenant.id)
    try:
        assert read_tracker(reads, tracker_id) is not None
        reads.close()
        assert not reads.in_transaction()
        assert read_tracker(reads, tracker_id).id == tracker_id  # RLS bound again on PostgreSQL
    finally:
        reads.close()


def test_a_connection_lost_under_a_keyed_read_is_replaced_for_the_next(database, tenant):
    if database.kind != "postgresql":
        pytest.skip("needs a server that can drop a connection")
    wsgi = make_app(database, **{"sqlalchemy.pool_size": "1"})
    app = TestApp(wsgi)
    engine = wsgi.registry["db.engine"]
    try:
        tracker_id = app.post_json("/api/v1/trackers/", {"name": "Order 3"},
                                   headers=tenant.headers, status=201).json["id"]
        path = f"/api/v1/trackers/{tracker_id}/"
        # The connection this worker keeps for its next read (tracee.kept_connection).
        keeper = wsgi.registry["db.keeper"]
        kept = keeper.take()
        pid = kept.connection.dbapi_connection.info.backend_pid
        keeper.give_back(kept)
        with database.admin_engine.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        app.get(path, headers=tenant.headers, status=500)
        assert app.get(path, headers=tenant.headers, status=200).json["id"] == tracker_id
    finally:
        engine.dispose()


def _driver_in_transaction(connection) -> bool:
    driver = connection.connection.dbapi_connection
    if isinstance(driver, psycopg.Connection):
        return driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    return driver.in_transaction


def test_closed_without_a_commit_the_kept_connection_holds_no_transaction_nor_tenant(
        registry, tenant, create, database):
    """The transaction is the driver's own: closing rolls it back, tenant setting and all,
    before the connection is kept for the next request."""
    tracker_id = create()["id"]
    keeper = registry["db.keeper"]
    reads = TenantConnection(registry["db.session_factory"], keeper)
    bind_tenant(reads, tenant.id)
    assert read_tracker(reads, tracker_id).id == tracker_id
    used = reads.connection()
    if database.kind == "postgresql":
        assert _driver_in_transaction(used)
    reads.close()
    kept = keeper.take()
    try:
        assert kept is used and not _driver_in_transaction(kept) and not kept.in_transaction()
        if database.kind == "postgresql":
            setting = kept.exec_driver_sql("SELECT current_setting('app.tenant_id', true)")
            assert setting.scalar() in (None, "")
            kept.rollback()
    finally:
        keeper.give_back(kept)


@pytest.mark.parametrize("through", ["reads", "session"])
def test_after_a_commit_the_next_transaction_is_bound_to_the_tenant_again(
        registry, tenant, create, database, through):
    """Row-level security's setting dies with each transaction: one begun after a
    commit gets it again, whether the reads or a joined Session committed."""
    tracker_id = create()["id"]
    with closing(TenantConnection(registry["db.session_factory"], registry["db.keeper"])) as reads:
        bind_tenant(reads, tenant.id)
        assert read_tracker(reads, tracker_id).id == tracker_id
        if through == "session":
            reads.session().get(Tenant, tenant.id)
            reads.session().commit()
        else:
            reads.commit()
        with watching(registry["db.engine"]) as seen:
            assert read_tracker(reads, tracker_id).id == tracker_id
        assert seen.set_configs == (1 if database.kind == "postgresql" else 0)
        reads.commit()
