"""A worker keeps its read requests' connection between them (tracee.kept_connection)."""

import os
import time

import pytest
import sqlalchemy as sa
from conftest import make_app
from webtest import TestApp

from tracee.db import make_engine
from tracee.kept_connection import ConnectionKeeper

BACKEND = {"postgresql": sa.text("SELECT pg_backend_pid()"), "sqlite": sa.text("SELECT 1")}


@pytest.fixture
def engine(database):
    engine = make_engine({"sqlalchemy.url": database.app_url})
    yield engine
    engine.dispose()


def test_the_next_request_takes_the_connection_the_last_one_gave_back(engine):
    keeper = ConnectionKeeper(engine)
    first = keeper.take()
    first.begin()
    keeper.give_back(first)
    assert keeper.take() is first
    assert engine.pool.checkedout() == 1  # kept: never back in the pool meanwhile


def test_an_open_transaction_is_rolled_back_before_the_connection_is_kept(engine, database):
    keeper = ConnectionKeeper(engine)
    connection = keeper.take()
    connection.begin()
    connection.execute(sa.text("SELECT 1"))
    keeper.give_back(connection)
    assert not connection.in_transaction()
    if database.kind == "postgresql":
        status = connection.connection.dbapi_connection.info.transaction_status
        assert status.name == "IDLE"


def test_a_failed_connection_goes_back_to_the_pool_and_a_fresh_one_serves(engine):
    keeper = ConnectionKeeper(engine)
    broken = keeper.take()
    broken.invalidate()
    keeper.give_back(broken)
    fresh = keeper.take()
    assert fresh is not broken and not fresh.invalidated
    assert fresh.execute(sa.text("SELECT 1")).scalar() == 1


def test_one_kept_past_the_idle_limit_is_checked_out_of_the_pool_again(engine):
    checkouts = []
    sa.event.listen(engine.pool, "checkout", lambda *args: checkouts.append(1))
    keeper = ConnectionKeeper(engine, idle_seconds=0.05)
    first = keeper.take()
    keeper.give_back(first)
    assert keeper.take() is first and len(checkouts) == 1
    keeper.give_back(first)
    time.sleep(0.06)
    again = keeper.take()
    # Through the pool, whose checkout pings an idle one (tracee.db.ping_after_idle).
    assert again is not first and len(checkouts) == 2
    assert first.closed


def test_a_connection_kept_before_a_fork_is_left_to_the_parent(engine, monkeypatch):
    keeper = ConnectionKeeper(engine)
    parents = keeper.take()
    keeper.give_back(parents)
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in the child
    childs = keeper.take()
    assert childs is not parents
    assert not parents.closed  # the parent's socket: not closed from the child
    monkeypatch.undo()
    parents.close()
    childs.close()


def test_a_second_connection_given_back_is_closed_not_kept(engine):
    keeper = ConnectionKeeper(engine)
    one, two = keeper.take(), engine.connect()
    keeper.give_back(one)
    keeper.give_back(two)
    assert two.closed and keeper.take() is one


def test_release_returns_the_kept_connection_to_the_pool(engine):
    keeper = ConnectionKeeper(engine)
    keeper.give_back(keeper.take())
    keeper.release()
    assert engine.pool.checkedout() == 0


def test_requests_in_turn_share_one_connection_and_never_each_others_tenant(database, tenant,
                                                                            other_tenant):
    """Across requests on the kept connection, each sees its own tenant's trackers only:
    app.tenant_id dies with each request's transaction."""
    wsgi = make_app(database)
    app = TestApp(wsgi)
    mine = app.post_json("/api/v1/trackers/", {"name": "Mine #1"},
                         headers={"X-API-Key": tenant.key}).json
    engine = wsgi.registry["db.engine"]
    seen = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, *args: seen.append(conn.connection.dbapi_connection))
    for _ in range(2):
        app.get(f"/api/v1/trackers/{mine['id']}/", headers={"X-API-Key": tenant.key})
        app.get(f"/api/v1/trackers/{mine['id']}/", headers={"X-API-Key": other_tenant.key},
                status=404)
    assert len(set(map(id, seen))) == 1
    wsgi.registry["db.keeper"].release()
    engine.dispose()
