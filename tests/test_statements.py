"""tracee.statements: Core statements sent together, on both databases alike."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tracee.statements import run_together, utc_rows
from tracee.tenancy.models import Tenant
from tracee.tracking.models import Tracker

_trackers, _tenants = Tracker.__table__, Tenant.__table__
_NEXT = (sa.update(_tenants).where(_tenants.c.id == sa.bindparam("t"))
         .values(tracker_seq=_tenants.c.tracker_seq + 1).returning(_tenants.c.tracker_seq))
# Leaves out message_count: the column's own default (0) must fill it.
_INSERT = sa.insert(_trackers).values({name: sa.bindparam(name) for name in (
    "tenant_id", "id", "number", "name", "created_at", "updated_at", "event_seq")})
_READ = sa.select(_trackers.c.id, _trackers.c.created_at, _trackers.c.message_count).where(
    _trackers.c.tenant_id == sa.bindparam("t")).order_by(_trackers.c.id)


def _row(tenant_id, tracker_id, at):
    return {"tenant_id": tenant_id, "id": tracker_id, "number": tracker_id,
            "name": f"Order {tracker_id}", "created_at": at, "updated_at": at, "event_seq": 0}


def test_statements_run_in_order_and_each_gives_its_rows(tenant, tenant_session):
    session = tenant_session(tenant.id)
    # Given in another zone: stored, and read back, as the same moment in UTC.
    at = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    first, second, inserted, read = run_together(session, [
        (_NEXT, {"t": tenant.id}),
        (_NEXT, {"t": tenant.id}),  # sees the first's change: the same transaction
        (_INSERT, [_row(tenant.id, 1, at), _row(tenant.id, 2, at)]),
        (_READ, {"t": tenant.id}),  # and these rows, written just before it
    ])
    assert first == [(1,)] and second == [(2,)]
    assert inserted == []
    assert read == [(1, at, 0), (2, at, 0)]
    assert read[0][1].utcoffset() == timedelta(0)
    session.rollback()
    assert run_together(session, [(_READ, {"t": tenant.id})]) == [[]]


def test_a_failing_statement_fails_the_transaction(tenant, tenant_session):
    session = tenant_session(tenant.id)
    at = datetime.now(UTC)
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        run_together(session, [(_INSERT, [_row(tenant.id, 1, at), _row(tenant.id, 1, at)])])
    session.rollback()
    assert run_together(session, [(_READ, {"t": tenant.id})]) == [[]]


def test_row_level_security_applies(tenant, other_tenant, tenant_session, database):
    at = datetime.now(UTC)
    session = tenant_session(tenant.id)
    run_together(session, [(_INSERT, _row(tenant.id, 1, at))])
    session.commit()
    other = tenant_session(other_tenant.id)
    # The other tenant's transaction names the first tenant: only RLS can refuse it.
    rows = run_together(other, [(_READ, {"t": tenant.id})])
    assert rows == ([[]] if database.kind == "postgresql" else [[(1, at, 0)]])


def test_rows_are_turned_to_utc_where_the_connection_is_not():
    class Info:
        timezone = timezone(timedelta(hours=-5))

    class Driver:
        info = Info()

    moment = datetime(2026, 3, 1, 9, 30, tzinfo=Info.timezone)
    converted = utc_rows(Driver())((1, moment, None))
    assert converted == (1, moment, None)
    assert converted[1].tzinfo is UTC
