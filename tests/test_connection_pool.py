"""Pooled connections are checked only after sitting idle (tracee.db.ping_after_idle_seconds)."""

import time

import pytest
import sqlalchemy as sa

from tracee.db import make_engine

PID = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
def engine(database):
    if database.kind != "postgresql":
        pytest.skip("needs a server that can drop a connection")
    engine = make_engine({"sqlalchemy.url": database.app_url, "sqlalchemy.pool_size": "1",
                          "tracee.db.ping_after_idle_seconds": "0.3"})
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(PID)


def kill(database, pid: int) -> None:
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    time.sleep(0.05)


def test_an_idle_connection_the_server_dropped_is_replaced_unnoticed(database, engine):
    dropped = backend_pid(engine)
    time.sleep(0.4)
    kill(database, dropped)
    assert backend_pid(engine) != dropped  # the ping failed; the pool reconnected


def test_a_connection_used_moments_ago_is_not_pinged(database, engine):
    dropped = backend_pid(engine)
    kill(database, dropped)
    # Within the idle window nothing is checked: this request fails ...
    with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
        conn.scalar(PID)
    # ... and SQLAlchemy's disconnect handling replaces the pool for the next.
    assert backend_pid(engine) != dropped


def test_without_the_setting_nothing_listens_on_checkout():
    assert not make_engine({"sqlalchemy.url": "sqlite://"}).pool.dispatch.checkout
    pinging = make_engine({"sqlalchemy.url": "sqlite://",
                           "tracee.db.ping_after_idle_seconds": "10"})
    assert pinging.pool.dispatch.checkout
