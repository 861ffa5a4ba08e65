"""SQLAlchemy base, engine, and the per-request session.

Sessions are per request (``request.db``), created on first use and ended
by the transaction tween below; there is no global scoped session.
"""

import sys
import time
from datetime import UTC, datetime

from pyramid.tweens import EXCVIEW
from sqlalchemy import DateTime, MetaData, engine_from_config, event, exc
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

from tracee.kept_connection import ConnectionKeeper

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(settings: dict):
    engine = engine_from_config(settings, "sqlalchemy.")
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    idle = float(settings.get("tracee.db.ping_after_idle_seconds") or 0)
    if idle > 0:
        ping_after_idle(engine, idle)
    return engine


def ping_after_idle(engine, seconds: float) -> None:
    """Check a pooled connection before use only when it has sat idle for ``seconds``.

    ``pool_pre_ping`` pings on every checkout: a round trip per request, to
    catch a connection the server or a firewall dropped, which happens to idle
    connections. One returned to the pool milliseconds ago is taken as is; if
    the server died since, that request fails, and SQLAlchemy then replaces
    every pooled connection at once (its disconnect handling).

    Idleness counts from the last checkout, not the last checkin: one listener
    per request instead of two, at the price of a needless ping after a
    request that held its connection longer than ``seconds``.
    """

    @event.listens_for(engine.pool, "connect")
    def _note_connect(_dbapi_connection, record):
        record.info["taken_at"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        now = time.monotonic()
        taken_at = record.info.get("taken_at", 0.0)
        record.info["taken_at"] = now
        if now - taken_at < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out a fresh one.
            raise exc.DisconnectionError() from error


def _sqlite_pragmas(dbapi_connection, _record):
    # SQLite leaves foreign keys off and blocks readers during writes unless told.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_session_factory(engine):
    return sessionmaker(bind=engine, expire_on_commit=False)


def request_db(request):
    """The request's session, created when first used; transaction_tween ends it.

    Made after ``request.reads`` (a TenantConnection), it joins that
    connection's transaction, so a request has one either way.
    """
    reads = request.__dict__.get("reads")  # where reify keeps it
    if reads is not None:
        return reads.session()
    return request.registry["db.session_factory"]()


def transaction_tween_factory(handler, registry):
    """One transaction per request: committed if the answer is below 400, else
    rolled back, so a rejected request leaves nothing behind.

    This used to be pyramid_tm with zope.sqlalchemy; their two-phase machinery
    (a transaction manager, a data manager, seven event listeners registered on
    every session) cost about a sixth of a simple API request, for one database.
    Sits over the exception views, so error answers they render roll back too.
    """

    def tween(request):
        try:
            response = handler(request)
        except BaseException:
            _end(request, commit=False)
            raise
        try:
            _end(request, commit=response.status_code < 400)
        except Exception:  # the commit itself failed: answer like any other error
            return request.invoke_exception_view(sys.exc_info())
        return response

    return tween


def _end(request, commit: bool) -> None:
    # Where reify keeps them; absent if never used. ``reads``, if made, owns
    # the Session made after it, or is the Session made before it.
    session = request.__dict__.get("reads")
    if session is None:
        session = request.__dict__.get("db")
    if session is None:
        return
    try:
        if commit:
            session.commit()
    finally:
        session.close()  # rolls back whatever was not committed


def includeme(config):
    settings = config.get_settings()
    engine = make_engine(settings)
    config.registry["db.engine"] = engine
    config.registry["db.session_factory"] = make_session_factory(engine)
    config.registry["db.keeper"] = ConnectionKeeper(
        engine, float(settings.get("tracee.db.ping_after_idle_seconds") or 0))
    config.add_request_method(request_db, "db", reify=True)
    # By dotted name: the tenant scope imports this module.
    config.add_request_method("tracee.tenancy.scope.request_reads", "reads", reify=True)
    config.add_tween("tracee.db.transaction_tween_factory", over=EXCVIEW)
