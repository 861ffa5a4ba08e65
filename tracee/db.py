"""SQLAlchemy base, engine, and the per-request session.

Sessions are per request (``request.db``) and joined to the request's
transaction by pyramid_tm; there is no global scoped session.
"""

from datetime import UTC, datetime

import zope.sqlalchemy
from sqlalchemy import DateTime, MetaData, engine_from_config, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

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
    return engine


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
    """The request's session, joined to its pyramid_tm transaction."""
    session = request.registry["db.session_factory"]()
    zope.sqlalchemy.register(session, transaction_manager=request.tm)
    return session


def includeme(config):
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    # A 4xx or 5xx answer rolls back: a rejected request must leave nothing behind.
    settings.setdefault("tm.commit_veto", "pyramid_tm.default_commit_veto")
    config.include("pyramid_tm")
    engine = make_engine(settings)
    config.registry["db.engine"] = engine
    config.registry["db.session_factory"] = make_session_factory(engine)
    config.add_request_method(request_db, "db", reify=True)
