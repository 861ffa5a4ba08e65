"""Writing trackers: prebuilt Core statements for a create and for a change.

The rules live in workflow.py; this module only moves rows. A create knows
every value it writes, and a change touches a handful of columns of rows
locked moments before, so the ORM's unit of work (instance states, the
dependency sort, post-fetch) cost more CPU than the statements themselves.

Like reads.py, these statements take the tenant from the session's binding
(``require_tenant``) and name it in SQL, so they never cross tenants, and
row-level security applies as to any other statement.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, insert, select, update

from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import (
    StepState,
    Tracker,
    TrackerEvent,
    TrackerState,
    TrackerStep,
    TrackingLink,
)


@dataclass(slots=True)
class StepDraft(StepState):
    position: int
    name: str
    visible: bool = True
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(slots=True)
class TrackerDraft(TrackerState):
    """A tracker locked for change (:func:`lock_tracker`), as plain values."""

    id: int
    number: int
    name: str
    template_slug: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    event_seq: int
    tracking_token: uuid.UUID
    steps: list[StepDraft]
    # Each step's times as stored, by position: what save() compares against.
    stored: dict[int, tuple] = field(default_factory=dict)

    def __post_init__(self):
        self.stored = {s.position: (s.started_at, s.completed_at) for s in self.steps}


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
        "event_seq",
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
           _steps.c.completed_at)
    .where(_OWN_STEPS)
    .order_by(_steps.c.position)
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
            event_seq=bindparam("new_event_seq"))
)


def insert_tracker(session, draft: TrackerDraft, first_event: dict) -> None:
    """Write a new tracker, its steps, its link and its first event."""
    owner = {"tenant_id": require_tenant(session), "tracker_id": draft.id}
    connection = session.connection()
    connection.execute(_INSERT_TRACKER, {
        "tenant_id": owner["tenant_id"], "id": draft.id, "number": draft.number,
        "name": draft.name, "template_slug": draft.template_slug,
        "created_at": draft.created_at, "updated_at": draft.updated_at,
        "completed_at": draft.completed_at, "event_seq": draft.event_seq,
    })
    if draft.steps:
        connection.execute(_INSERT_STEPS, [_step_row(owner, s) for s in draft.steps])
    connection.execute(_INSERT_LINK, {**owner, "token": draft.tracking_token})
    connection.execute(_INSERT_EVENTS, {**owner, **first_event})


def lock_tracker(session, tracker_id: int) -> TrackerDraft | None:
    """The bound tenant's tracker, locked until commit, or None."""
    params = {"owner_tenant": require_tenant(session), "owner_tracker": tracker_id}
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.execute(_SQLITE_LOCK, params)
    row = connection.execute(_LOCKED_TRACKER, params).first()
    if row is None:
        return None
    steps = [StepDraft(*step) for step in connection.execute(_STEPS, params)]
    return TrackerDraft(*row, steps=steps)


def save_changes(session, draft: TrackerDraft, events: list[dict]) -> None:
    """Write what changed in ``draft`` since it was read or last saved, with ``events``."""
    owner = {"tenant_id": require_tenant(session), "tracker_id": draft.id}
    where = {"owner_tenant": owner["tenant_id"], "owner_tracker": draft.id}
    connection = session.connection()
    added = [s for s in draft.steps if s.position not in draft.stored]
    changed = [
        {**where, "step": s.position, "new_started_at": s.started_at,
         "new_completed_at": s.completed_at}
        for s in draft.steps
        if s.position in draft.stored and draft.stored[s.position] != (s.started_at, s.completed_at)
    ]
    if changed:
        connection.execute(_UPDATE_STEP, changed)
    if added:
        connection.execute(_INSERT_STEPS, [_step_row(owner, s) for s in added])
    connection.execute(_UPDATE_TRACKER, {
        **where, "new_completed_at": draft.completed_at, "new_updated_at": draft.updated_at,
        "new_event_seq": draft.event_seq,
    })
    if events:
        connection.execute(_INSERT_EVENTS, [{**owner, **event} for event in events])
    draft.stored = {s.position: (s.started_at, s.completed_at) for s in draft.steps}


def _step_row(owner: dict, step: StepDraft) -> dict:
    return {**owner, "position": step.position, "name": step.name, "visible": step.visible,
            "started_at": step.started_at, "completed_at": step.completed_at}
