"""Trackers for the hot read paths, loaded by one prebuilt query.

``GET /api/v1/trackers/{id}/``, the QR code, the tracking page and the embed
only read a tracker. Loading it as ORM objects (identity map, instance state,
loader strategies, the scoping hook, two queries) cost about a third of such
a request, so they read plain rows into records (records.py) instead, on the
driver's cursor (tracee.driver_select: SQLAlchemy's result machinery was
most of what was left).

The ORM's scoping hook does not see Core queries, so this one takes the
tenant from the same binding (``require_tenant``) and names it in SQL, and
row-level security applies as to any other query.
"""

from sqlalchemy import bindparam, select

from tracee.driver_select import DriverSelect
from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import Tracker, TrackerStep, TrackingLink
from tracee.tracking.records import StepRecord, TrackerRecord

_trackers, _steps, _links = Tracker.__table__, TrackerStep.__table__, TrackingLink.__table__
_TRACKER_COLUMNS = [_trackers.c[name] for name in (
    "id", "number", "name", "template_slug", "created_at", "updated_at", "completed_at",
    "event_seq", "ready_by", "step_due_at",
)] + [_links.c.token, _trackers.c.message_count]
_STEP_COLUMNS = [_steps.c[name] for name in (
    "position", "name", "visible", "started_at", "completed_at", "expected_minutes",
)]
TRACKER_WITH_STEPS = (
    select(*_TRACKER_COLUMNS, *_STEP_COLUMNS)
    .select_from(
        _trackers.join(
            _links,
            (_links.c.tenant_id == _trackers.c.tenant_id) & (_links.c.tracker_id == _trackers.c.id),
        ).outerjoin(
            _steps,
            (_steps.c.tenant_id == _trackers.c.tenant_id) & (_steps.c.tracker_id == _trackers.c.id),
        )
    )
    .where(_trackers.c.tenant_id == bindparam("tenant_id"), _trackers.c.id == bindparam("id"))
    .order_by(_steps.c.position)
)
_SPLIT = len(_TRACKER_COLUMNS)
_READ_TRACKER = DriverSelect(TRACKER_WITH_STEPS)


def read_tracker(session, tracker_id: int) -> TrackerRecord | None:
    """The bound tenant's tracker ``tracker_id`` with its steps, or None."""
    rows = _READ_TRACKER.rows(
        session.connection(), {"tenant_id": require_tenant(session), "id": tracker_id}
    )
    return tracker_from_rows(rows)


def tracker_from_rows(rows) -> TrackerRecord | None:
    """The record of ``TRACKER_WITH_STEPS``'s rows (none: no such tracker)."""
    if not rows:
        return None
    steps = [StepRecord(*row[_SPLIT:]) for row in rows if row[_SPLIT] is not None]
    *tracker, message_count = rows[0][:_SPLIT]
    return TrackerRecord(*tracker, steps, message_count)
