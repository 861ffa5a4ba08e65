"""Writing trackers: prebuilt Core statements for a create and for a change.

The rules live in workflow.py; this module only moves rows. A create knows
every value it writes, and a change touches a handful of columns of rows
locked moments before, so the ORM's unit of work (instance states, the
dependency sort, post-fetch) cost more CPU than the statements themselves.

Like reads.py, these statements take the tenant from the session's binding
(``require_tenant``) and name it in SQL, so they never cross tenants, and
row-level security applies as to any other statement.
"""

from sqlalchemy import and_, bindparam, func, insert, select, update

from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import Tracker, TrackerEvent, TrackerStep, TrackingLink
from tracee.tracking.records import StepRecord, TrackerRecord

CHANGED_TRACKERS = "tracee.changed_trackers"  # session.info: token -> event_seq written

_trackers, _steps, _links = Tracker.__table__, TrackerStep.__table__, TrackingLink.__table__
_events = TrackerEvent.__table__
# Parameters of UPDATEs are named unlike any column: Core would take a
# parameter named like one as a value to SET.
_OWN_TRACKER = and_(_trackers.c.tenant_id == bindparam("owner_tenant"),
                    _trackers.c.id == bindparam("owner_tracker"))
_OWN_STEPS = and_(_steps.c.tenant_id == bindparam("owner_tenant"),
                  _steps.c.tracker_id == bindparam("owner_tracker"))

# SQLite ignores FOR UPDATE; any write takes its database lock (waiting for
# other writers), so the reads after this no-op see their committed changes.
_SQLITE_LOCK = update(_trackers).where(_OWN_TRACKER).values(event_seq=_trackers.c.event_seq)
# Only the tracker row is locked (OF trackers): its link never changes.
_LOCKED_TRACKER = (
    select(*(_trackers.c[name] for name in (
        "id", "number", "name", "template_slug", "created_at", "updated_at", "completed_at",
        "event_seq", "ready_by", "step_due_at",
    )), _links.c.token)
    .join(_links, (_links.c.tenant_id == _trackers.c.tenant_id)
          & (_links.c.tracker_id == _trackers.c.id))
    .where(_OWN_TRACKER)
    .with_for_update(of=_trackers)
)
# Not joined into the locking statement: rows joined there come from the
# snapshot taken before it waited for the lock, i.e. stale. Read by their
# own statement once the lock is held, they are current.
_STEPS = (
    select(_steps.c.position, _steps.c.name, _steps.c.visible, _steps.c.started_at,
           _steps.c.completed_at, _steps.c.expected_minutes)
    .where(_OWN_STEPS)
    .order_by(_steps.c.position)
)
# Order numbers are chosen under the tenant row's lock (allocate_tracker_id).
_OWN_NUMBERS = _trackers.c.tenant_id == bindparam("owner_tenant")
_NUMBER_TAKEN = select(_trackers.c.id).where(_OWN_NUMBERS, _trackers.c.number == bindparam("n"))
# For the next order number, in one round trip of three index probes: the
# highest number up to a ceiling, whether the one after the ceiling is taken,
# and the highest number of all.
_HIGHEST_UP_TO = select(func.max(_trackers.c.number)).where(
    _OWN_NUMBERS, _trackers.c.number <= bindparam("ceiling"))
_ABOVE_CEILING = select(_trackers.c.id).where(
    _OWN_NUMBERS, _trackers.c.number == bindparam("above_ceiling"))
_HIGHEST = select(func.max(_trackers.c.number)).where(_OWN_NUMBERS)
_NUMBERS_BELOW = select(
    _HIGHEST_UP_TO.scalar_subquery(), _ABOVE_CEILING.exists(), _HIGHEST.scalar_subquery())
# The first taken number from n on whose successor is free: walks the
# (tenant_id, number) index from n and stops at the first gap.
_next = _trackers.alias("next_number")
_FREE_AFTER_RUN = (
    select(_trackers.c.number + 1)
    .where(_OWN_NUMBERS, _trackers.c.number >= bindparam("n"),
           _trackers.c.number < bindparam("max_number"),
           ~select(_next.c.number).where(
               _next.c.tenant_id == _trackers.c.tenant_id,
               _next.c.number == _trackers.c.number + 1,
           ).exists())
    .order_by(_trackers.c.number)
    .limit(1)
)
_INSERT_TRACKER = insert(_trackers)
_INSERT_STEPS = insert(_steps)
_INSERT_LINK = insert(_links)
_INSERT_EVENTS = insert(_events)
_UPDATE_STEP = (
    update(_steps)
    .where(_OWN_STEPS, _steps.c.position == bindparam("step"))
    .values(started_at=bindparam("new_started_at"), completed_at=bindparam("new_completed_at"))
)
_UPDATE_TRACKER = (
    update(_trackers)
    .where(_OWN_TRACKER)
    .values(completed_at=bindparam("new_completed_at"), updated_at=bindparam("new_updated_at"),
            event_seq=bindparam("new_event_seq"), step_due_at=bindparam("new_step_due_at"))
)
_SET_READY_BY = (
    update(_trackers)
    .where(_OWN_TRACKER)
    .values(ready_by=bindparam("new_ready_by"), updated_at=bindparam("new_updated_at"),
            event_seq=bindparam("new_event_seq"))
)


def number_taken(session, number: int) -> bool:
    params = {"owner_tenant": require_tenant(session), "n": number}
    return session.connection().execute(_NUMBER_TAKEN, params).first() is not None


def numbers_below(session, ceiling: int, max_number: int) -> tuple[int | None, bool, int | None]:
    """The bound tenant's highest number up to ``ceiling``, whether ``ceiling + 1``
    is taken, and its highest number of all (None before its first tracker).

    Numbers stop at ``max_number`` (the column's top): at that ceiling the
    second answer is about ``max_number`` itself, and means nothing.
    """
    params = {"owner_tenant": require_tenant(session), "ceiling": ceiling,
              "above_ceiling": min(ceiling + 1, max_number)}
    return tuple(session.connection().execute(_NUMBERS_BELOW, params).one())


def lowest_free_number(session, max_number: int) -> int | None:
    """The bound tenant's smallest unused order number, or None if all up to
    ``max_number`` are taken. Walks the run of taken numbers from 1: for the
    rare tenant whose sequence has reached the top."""
    if not number_taken(session, 1):
        return 1
    params = {"owner_tenant": require_tenant(session), "n": 1, "max_number": max_number}
    return session.connection().execute(_FREE_AFTER_RUN, params).scalar()


def insert_tracker(session, tracker: TrackerRecord, first_event: dict) -> None:
    """Write a new tracker, its steps, its link and its first event."""
    owner = {"tenant_id": require_tenant(session), "tracker_id": tracker.id}
    connection = session.connection()
    connection.execute(_INSERT_TRACKER, {
        "tenant_id": owner["tenant_id"], "id": tracker.id, "number": tracker.number,
        "name": tracker.name, "template_slug": tracker.template_slug,
        "created_at": tracker.created_at, "updated_at": tracker.updated_at,
        "completed_at": tracker.completed_at, "event_seq": tracker.event_seq,
        "ready_by": tracker.ready_by, "step_due_at": tracker.step_due_at,
    })
    if tracker.steps:
        connection.execute(_INSERT_STEPS, [_step_row(owner, s) for s in tracker.steps])
    connection.execute(_INSERT_LINK, {**owner, "token": tracker.tracking_token})
    connection.execute(_INSERT_EVENTS, {**owner, **first_event})


def lock_tracker(session, tracker_id: int) -> TrackerRecord | None:
    """The bound tenant's tracker, locked until commit, or None."""
    params = {"owner_tenant": require_tenant(session), "owner_tracker": tracker_id}
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.execute(_SQLITE_LOCK, params)
    row = connection.execute(_LOCKED_TRACKER, params).first()
    if row is None:
        return None
    steps = [StepRecord(*step) for step in connection.execute(_STEPS, params)]
    return TrackerRecord(*row, steps=steps)


def save_changes(session, tracker: TrackerRecord, events: list[dict]) -> None:
    """Write what changed in ``tracker`` since it was read or last saved, with ``events``."""
    owner = {"tenant_id": require_tenant(session), "tracker_id": tracker.id}
    where = {"owner_tenant": owner["tenant_id"], "owner_tracker": tracker.id}
    connection = session.connection()
    added = [s for s in tracker.steps if s.position not in tracker.stored]
    changed = [
        {**where, "step": s.position, "new_started_at": s.started_at,
         "new_completed_at": s.completed_at}
        for s in tracker.steps
        if tracker.stored.get(s.position, (s.started_at, s.completed_at))
        != (s.started_at, s.completed_at)
    ]
    if changed:
        connection.execute(_UPDATE_STEP, changed)
    if added:
        connection.execute(_INSERT_STEPS, [_step_row(owner, s) for s in added])
    connection.execute(_UPDATE_TRACKER, {
        **where, "new_completed_at": tracker.completed_at, "new_updated_at": tracker.updated_at,
        "new_event_seq": tracker.event_seq, "new_step_due_at": tracker.step_due_at,
    })
    _record_events(session, connection, owner, tracker, events)
    tracker.mark_stored()


def save_ready_by(session, tracker: TrackerRecord, event: dict) -> None:
    """Write the tracker's promised ready date, with the event that records it."""
    owner = {"tenant_id": require_tenant(session), "tracker_id": tracker.id}
    connection = session.connection()
    connection.execute(_SET_READY_BY, {
        "owner_tenant": owner["tenant_id"], "owner_tracker": tracker.id,
        "new_ready_by": tracker.ready_by, "new_updated_at": tracker.updated_at,
        "new_event_seq": tracker.event_seq,
    })
    _record_events(session, connection, owner, tracker, [event])


def _record_events(session, connection, owner: dict, tracker: TrackerRecord, events) -> None:
    if events:
        connection.execute(_INSERT_EVENTS, [{**owner, **event} for event in events])
    # Which pages change at commit (tracee.progress_front raises their version then).
    session.info.setdefault(CHANGED_TRACKERS, {})[str(tracker.tracking_token)] = tracker.event_seq


def _step_row(owner: dict, step: StepRecord) -> dict:
    return {**owner, "position": step.position, "name": step.name, "visible": step.visible,
            "started_at": step.started_at, "completed_at": step.completed_at,
            "expected_minutes": step.expected_minutes}
