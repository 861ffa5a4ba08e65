"""Hot reads on the driver's cursor (tracee.driver_select) read what SQLAlchemy reads."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, select

from tracee.driver_select import DriverSelect
from tracee.tenancy.models import Tenant
from tracee.tracking.reads import TRACKER_WITH_STEPS, read_tracker, tracker_from_rows


def _started(app, tenant, create):
    created = create()
    app.post_json(f"/api/v1/trackers/{created['id']}/status/",
                  {"process": "3D Printing", "action": "start"}, headers=tenant.headers)
    return created["id"]


def test_a_tracker_reads_as_through_sqlalchemy(app, tenant, create, tenant_session):
    tracker_id = _started(app, tenant, create)
    session = tenant_session(tenant.id)
    if session.get_bind().dialect.name == "postgresql":
        # Times come back in UTC whatever the connection's zone, as UTCDateTime does.
        session.execute(sa.text("SET LOCAL TIME ZONE 'Asia/Tokyo'"))
    record = read_tracker(session, tracker_id)
    rows = session.connection().execute(
        TRACKER_WITH_STEPS, {"tenant_id": tenant.id, "id": tracker_id}).all()
    assert record == tracker_from_rows(rows)
    assert record.created_at.utcoffset() == timedelta(0)
    assert [s.status for s in record.steps][:3] == ["completed", "in_progress", "pending"]
    assert read_tracker(session, tracker_id + 1000) is None


def test_a_first_row_is_named_and_takes_the_statements_own_values(db_session, tenant):
    # The LIMIT's value is bound by SQLAlchemy, not by the caller.
    query = DriverSelect(select(Tenant.__table__.c.id, Tenant.__table__.c.slug)
                         .where(Tenant.__table__.c.slug == bindparam("slug")).limit(1))
    row = query.first(db_session.connection(), {"slug": "acme"})
    assert (row.id, row.slug) == (tenant.id, "acme")
    assert query.first(db_session.connection(), {"slug": "nobody"}) is None


def test_bind_values_go_through_the_columns_types(db_session, tenant):
    created_at = Tenant.__table__.c.created_at
    query = DriverSelect(select(sa.func.count())
                         .where(created_at < bindparam("before", type_=created_at.type)))
    with pytest.raises(sa.exc.StatementError):  # UTCDateTime refuses a naive time
        query.rows(db_session.connection(), {"before": datetime(2100, 1, 1)})
    db_session.rollback()
    [(count,)] = query.rows(db_session.connection(), {"before": datetime(2100, 1, 1, tzinfo=UTC)})
    assert count >= 1


def test_a_connection_lost_mid_read_fails_as_sqlalchemy_fails(database, registry, tenant):
    if database.kind != "postgresql":
        pytest.skip("needs a server that can drop a connection")
    engine = registry["db.engine"]
    query = DriverSelect(select(sa.func.pg_backend_pid()))
    with engine.connect() as conn:
        pid = query.rows(conn, {})[0][0]
        with database.admin_engine.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError) as raised:
            query.rows(conn, {})
        assert raised.value.connection_invalidated
    with engine.connect() as conn:  # the pool replaced it
        assert query.rows(conn, {})[0][0] != pid
