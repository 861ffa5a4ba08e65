"""Writing trackers: prebuilt Core statements for a create and for a change.

The rules live in workflow.py; this module only moves rows. A create knows
every value it writes, and a change touches a handful of columns of rows
locked moments before, so the ORM's unit of work (instance states, the
dependency sort, post-fetch) cost more CPU than the statements themselves.
The statements of each step go together (tracee.statements): a create asks
for its id and order number in one round trip and writes its rows in
another; a change locks and reads in one and writes in another.

Like reads.py, these statements take the tenant from the session's binding
(``require_tenant``) and name it in SQL, so they never cross tenants, and
row-level security applies as to any other statement.
"""

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, case, func, insert, select, update

from tracee.statements import run_together
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import Tracker, TrackerEvent, TrackerStep, TrackingLink
from tracee.tracking.records import StepRecord, TrackerRecord

CHANGED_TRACKERS = "tracee.changed_trackers"  # session.info: token -> event_seq written

_trackers, _steps, _links = Tracker.__table__, TrackerStep.__table__, TrackingLink.__table__
_events, _tenants = TrackerEvent.__table__, Tenant.__table__
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
# A new tracker's id: the tenant's next. The UPDATE locks the tenant row until
# commit, which also serialises the choice of order numbers between concurrent
# creates: the statements after it start once it holds the lock, so they see
# every number committed before.
_NEXT_TRACKER_ID = (
    update(_tenants)
    .where(_tenants.c.id == bindparam("owner_tenant"))
    .values(tracker_seq=_tenants.c.tracker_seq + 1)
    .returning(_tenants.c.tracker_seq)
)
_OWN_NUMBERS = _trackers.c.tenant_id == bindparam("owner_tenant")
_NUMBER_TAKEN = select(_trackers.c.id).where(_OWN_NUMBERS, _trackers.c.number == bindparam("n"))
# For the next order number, in one statement of three index probes: the
# highest number up to a ceiling, whether the one after the ceiling is taken,
# and the highest number of all. The ceiling is the new id (just taken, in
# this transaction) plus a reach, at most the top number; computed here, it
# needs no round trip of its own between taking the id and asking.
_new_id = select(_tenants.c.tracker_seq).where(
    _tenants.c.id == bindparam("owner_tenant")).scalar_subquery()
_top = bindparam("max_number")
_ceiling = case((_new_id > _top - bindparam("reach"), _top), else_=_new_id + bindparam("reach"))
_HIGHEST_UP_TO = select(func.max(_trackers.c.number)).where(
    _OWN_NUMBERS, _trackers.c.number <= _ceiling)
_ABOVE_CEILING = select(_trackers.c.id).where(
    _OWN_NUMBERS, _trackers.c.number == case((_ceiling >= _top, _top), else_=_ceiling + 1))
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


def _insert(table, *names):
    """An INSERT of exactly these columns (the SQL sent as is, so it names them all)."""
    return insert(table).values({name: bindparam(name) for name in names})


_INSERT_TRACKER = _insert(_trackers, "tenant_id", "id", "number", "name", "template_slug",
                          "created_at", "updated_at", "completed_at", "event_seq", "ready_by",
                          "step_due_at")
_INSERT_STEPS = _insert(_steps, "tenant_id", "tracker_id", "position", "name", "visible",
                        "started_at", "completed_at", "expected_minutes")
_INSERT_LINK = _insert(_links, "token", "tenant_id", "tracker_id")
_INSERT_EVENTS = _insert(_events, "tenant_id", "tracker_id", "seq", "type", "process", "actor",
                         "created_at", "action")
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


@dataclass(frozen=True)
class NewTrackerId:
    """A create's tracker id, and what its order number is chosen from."""

    id: int
    taken: frozenset[int]  # of the numbers asked about, those already used
    ceiling: int  # the id plus the reach, at most the top number
    near: int | None = None  # the highest number up to the ceiling
    next_taken: bool = False  # whether the one after the ceiling is used
    highest: int | None = None  # the highest number of all (None before the first)


def take_tracker_id(session, asked: tuple[int, ...], reach: int, max_number: int,
                    sequence: bool = True) -> NewTrackerId:
    """Take the bound tenant's next tracker id and, in the same round trip, learn
    which of the ``asked`` numbers are taken and (with ``sequence``) the numbers
    around the ceiling that the next number in sequence comes from.

    Numbers stop at ``max_number`` (the column's top): at that ceiling
    ``next_taken`` is about ``max_number`` itself, and means nothing.
    """
    tenant = {"owner_tenant": require_tenant(session)}
    steps = [(_NEXT_TRACKER_ID, tenant)]
    steps += [(_NUMBER_TAKEN, {**tenant, "n": n}) for n in asked]
    if sequence:
        steps.append((_NUMBERS_BELOW, {**tenant, "reach": reach, "max_number": max_number}))
    (new_id,), *answers = (rows[0] if rows else None for rows in run_together(session, steps))
    taken = frozenset(n for n, found in zip(asked, answers, strict=False) if found is not None)
    ceiling = min(new_id + reach, max_number)
    if not sequence:
        return NewTrackerId(new_id, taken, ceiling)
    near, next_taken, highest = answers[-1]
    return NewTrackerId(new_id, taken, ceiling, near, bool(next_taken), highest)


def lowest_free_number(session, max_number: int) -> int | None:
    """The bound tenant's smallest unused order number, or None if all up to
    ``max_number`` are taken. Walks the run of taken numbers from 1: for the
    rare tenant whose sequence has reached the top."""
    params = {"owner_tenant": require_tenant(session), "n": 1, "max_number": max_number}
    connection = session.connection()
    if connection.execute(_NUMBER_TAKEN, params).first() is None:
        return 1
    return connection.execute(_FREE_AFTER_RUN, params).scalar()


def insert_tracker(session, tracker: TrackerRecord, first_event: dict) -> None:
    """Write a new tracker, its steps, its link and its first event (one round trip)."""
    owner = {"tenant_id": require_tenant(session), "tracker_id": tracker.id}
    steps = [(_INSERT_TRACKER, {
        "tenant_id": owner["tenant_id"], "id": tracker.id, "number": tracker.number,
        "name": tracker.name, "template_slug": tracker.template_slug,
        "created_at": tracker.created_at, "updated_at": tracker.updated_at,
        "completed_at": tracker.completed_at, "event_seq": tracker.event_seq,
        "ready_by": tracker.ready_by, "step_due_at": tracker.step_due_at,
    })]
    if tracker.steps:
        steps.append((_INSERT_STEPS, [_step_row(owner, s) for s in tracker.steps]))
    steps.append((_INSERT_LINK, {**owner, "token": tracker.tracking_token}))
    steps.append((_INSERT_EVENTS, {**owner, **first_event}))
    run_together(session, steps)
    tracker.mark_stored()


def lock_tracker(session, tracker_id: int) -> TrackerRecord | None:
    """The bound tenant's tracker, locked until commit, or None (one round trip)."""
    params = {"owner_tenant": require_tenant(session), "owner_tracker": tracker_id}
    steps = [(_LOCKED_TRACKER, params), (_STEPS, params)]
    if session.connection().dialect.name == "sqlite":
        steps.insert(0, (_SQLITE_LOCK, params))
    *_, tracker_rows, step_rows = run_together(session, steps)
    if not tracker_rows:
        return None
    tracker = TrackerRecord(*tracker_rows[0], steps=[StepRecord(*row) for row in step_rows])
    tracker.mark_stored()
    return tracker


def save_changes(session, tracker: TrackerRecord, events: list[dict]) -> None:
    """Write what changed in ``tracker`` since it was read or last saved, with
    ``events`` (one round trip)."""
    if tracker.stored is None:
        raise ValueError("save_changes takes a tracker read with lock_tracker or inserted")
    owner = {"tenant_id": require_tenant(session), "tracker_id": tracker.id}
    where = {"owner_tenant": owner["tenant_id"], "owner_tracker": tracker.id}
    added = [s for s in tracker.steps if s.position not in tracker.stored]
    changed = [
        {**where, "step": s.position, "new_started_at": s.started_at,
         "new_completed_at": s.completed_at}
        for s in tracker.steps
        if tracker.stored.get(s.position, (s.started_at, s.completed_at))
        != (s.started_at, s.completed_at)
    ]
    steps = []
    if changed:
        steps.append((_UPDATE_STEP, changed))
    if added:
        steps.append((_INSERT_STEPS, [_step_row(owner, s) for s in added]))
    steps.append((_UPDATE_TRACKER, {
        **where, "new_completed_at": tracker.completed_at, "new_updated_at": tracker.updated_at,
        "new_event_seq": tracker.event_seq, "new_step_due_at": tracker.step_due_at,
    }))
    run_together(session, [*steps, *_event_steps(owner, events)])
    _note_change(session, tracker)
    tracker.mark_stored()


def save_ready_by(session, tracker: TrackerRecord, event: dict) -> None:
    """Write the tracker's promised ready date, with the event that records it."""
    owner = {"tenant_id": require_tenant(session), "tracker_id": tracker.id}
    run_together(session, [(_SET_READY_BY, {
        "owner_tenant": owner["tenant_id"], "owner_tracker": tracker.id,
        "new_ready_by": tracker.ready_by, "new_updated_at": tracker.updated_at,
        "new_event_seq": tracker.event_seq,
    }), *_event_steps(owner, [event])])
    _note_change(session, tracker)


def _event_steps(owner: dict, events) -> list:
    return [(_INSERT_EVENTS, [{**owner, **event} for event in events])] if events else []


def _note_change(session, tracker: TrackerRecord) -> None:
    # Which pages change at commit (tracee.progress_front raises their version then).
    session.info.setdefault(CHANGED_TRACKERS, {})[str(tracker.tracking_token)] = tracker.event_seq


def _step_row(owner: dict, step: StepRecord) -> dict:
    return {**owner, "position": step.position, "name": step.name, "visible": step.visible,
            "started_at": step.started_at, "completed_at": step.completed_at,
            "expected_minutes": step.expected_minutes}
