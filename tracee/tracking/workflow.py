"""What creating a tracker and starting or completing a step mean.

Plain functions over a tenant-bound session, shared by the API, the pages
and the command line. They raise the exceptions below for input that the
caller should answer with a 4xx; they never commit.
"""

import re
import uuid
from dataclasses import dataclass

from tracee.db import utcnow
from tracee.tenancy.scope import TenantScopeError, require_tenant
from tracee.text import InvalidName, clean_name, name_key
from tracee.tracking.estimates import step_due_at
from tracee.tracking.records import StepRecord, TrackerRecord
from tracee.tracking.templates import find_template
from tracee.tracking.writes import (
    NewTrackerId,
    insert_tracker,
    lock_tracker,
    lowest_free_number,
    save_changes,
    save_ready_by,
    take_tracker_id,
)

START, COMPLETE = "start", "complete"
ACTIONS = (START, COMPLETE)
MAX_NUMBER = 2**31 - 1
# How far above a new tracker's id the numbers that set the sequence may lie.
# A shop's order numbers run ahead of its tracker ids by about the orders it
# had before using us; a number beyond this came from elsewhere.
NUMBER_REACH = 10_000
# (?!\d): a longer run of digits is no order number, not its first ten digits.
_NUMBER_IN_NAME = re.compile(r"#\s*(\d{1,10})(?!\d)")


class WorkflowError(ValueError):
    """Input the domain refuses; ``field`` names what was wrong."""

    field = None

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class UnknownTemplate(WorkflowError):
    field = "template"


class NumberTaken(WorkflowError):
    field = "number"


class UnknownProcess(WorkflowError):
    field = "process"


class InvalidTrackerName(WorkflowError):
    field = "name"


class InvalidProcessName(WorkflowError):
    field = "process"


def _named(text: str, error: type[WorkflowError]) -> str:
    """``text`` under the rules of tracee.text, or ``error`` saying why not."""
    try:
        return clean_name(text)
    except InvalidName as exc:
        raise error(f"{error.field} {exc}") from None


@dataclass(frozen=True)
class Actor:
    """Who made a change, as recorded in the audit trail (e.g. ``key:3``, ``cli``)."""

    label: str


def _number_in_name(name: str) -> int | None:
    match = _NUMBER_IN_NAME.search(name)
    if match and 0 < int(match.group(1)) <= MAX_NUMBER:
        return int(match.group(1))
    return None


def _choose_number(session, new: NewTrackerId, requested: int | None,
                   from_name: int | None) -> int:
    """The explicit number; else a ``#N`` in the name if free; else the next in sequence."""
    if requested is not None:
        if requested in new.taken:
            raise NumberTaken(f"number {requested} is already used by another tracker")
        return requested
    if from_name is not None and from_name not in new.taken:
        return from_name
    return _next_in_sequence(session, new)


def _next_in_sequence(session, new: NewTrackerId) -> int:
    """One more than the highest number at most NUMBER_REACH above the tracker's id.

    Numbers further up came from names (customer text) or explicit numbers;
    counting them let one name holding ``#2147483647`` take the top number
    and leave every later tracker without one. The reach rises with the ids,
    one per tracker, so a name can move the sequence by at most
    NUMBER_REACH, never to the top. If the number just past the reach is
    taken, one more than the highest; if that is past the top, the first
    free number: never none.
    """
    candidate = (new.near or 0) + 1
    # Below the ceiling, one more than the highest there is free by definition.
    if candidate <= MAX_NUMBER and not (new.near == new.ceiling and new.next_taken):
        return candidate
    if new.highest < MAX_NUMBER:
        return new.highest + 1
    number = lowest_free_number(session, MAX_NUMBER)
    if number is None:
        raise NumberTaken("no free order number is left")
    return number


def _event(
    tracker: TrackerRecord, event_type: str, actor: Actor, at, process=None, action=None
) -> dict:
    """The next entry of the tracker's audit trail."""
    tracker.event_seq += 1
    return {"seq": tracker.event_seq, "type": event_type, "process": process,
            "actor": actor.label, "created_at": at, "action": action}


def create_tracker(
    session, tenant_id: int, name: str, actor: Actor, template: str | None = None,
    number: int | None = None, ready_by=None,
) -> TrackerRecord:
    """Create a tracker with its steps, link and first event.

    The result is the new tracker, whose row this transaction holds: it can
    be changed with :func:`apply_action` straight away.
    """
    if tenant_id != require_tenant(session):
        # What the ORM's stamping checks for the rows it inserts (tracee.tenancy.scope).
        raise TenantScopeError("new Tracker for another tenant")
    name = _named(name, InvalidTrackerName)
    spec = None
    if template is not None:
        spec = find_template(session, template)
        if spec is None:
            raise UnknownTemplate(f"unknown template {template!r}")
    from_name = None if number is not None else _number_in_name(name)
    asked = tuple(n for n in (number, from_name) if n is not None)
    # One round trip: the id, and what the number is chosen from.
    new = take_tracker_id(session, asked, NUMBER_REACH, MAX_NUMBER, sequence=number is None)
    now = utcnow()
    tracker = TrackerRecord(
        id=new.id,
        number=_choose_number(session, new, number, from_name),
        name=name,
        template_slug=spec.slug if spec else None,
        created_at=now,
        updated_at=now,
        completed_at=None,
        event_seq=0,
        ready_by=ready_by,
        step_due_at=None,
        tracking_token=uuid.uuid4(),
        steps=[
            StepRecord(position=i, name=s.name, visible=s.visible,
                       expected_minutes=s.expected_minutes)
            for i, s in enumerate(spec.steps if spec else (), start=1)
        ],
    )
    tracker.step_due_at = step_due_at(tracker)
    insert_tracker(session, tracker, _event(tracker, "tracker.created", actor, now))
    return tracker


def tracker_for_update(session, tracker_id: int) -> TrackerRecord | None:
    """The tracker, locked until commit so concurrent changes queue up behind it."""
    return lock_tracker(session, tracker_id)


def _find_step(tracker: TrackerRecord, process: str) -> StepRecord | None:
    wanted = name_key(process)
    return next((s for s in tracker.steps if name_key(s.name) == wanted), None)


def apply_action(session, tracker: TrackerRecord, process: str, action: str, actor: Actor) -> bool:
    """Start or complete ``process``; return whether anything changed.

    Acting on a step closes every earlier step still open; ``start`` on a
    step behind the work (a later step has started) re-opens it and resets
    the steps after it (rework); an action that already holds changes
    nothing, so ``start`` retried after ``complete`` is harmless.
    """
    if action not in ACTIONS:
        raise WorkflowError(f"action must be one of {', '.join(ACTIONS)}")
    step = _find_step(tracker, process)
    if step is None:
        if tracker.template_slug is not None:
            valid = [s.name for s in tracker.steps]
            raise UnknownProcess(
                f"unknown process {process!r}; valid: {', '.join(valid)}", valid=valid
            )
        # Without a template the steps are whatever the business reports, in order;
        # a name that only looks like an existing step's is refused, not added.
        name = _named(" ".join(process.split()), InvalidProcessName)
        step = StepRecord(position=len(tracker.steps) + 1, name=name)
        tracker.steps.append(step)

    now = utcnow()
    changes = []
    for earlier in tracker.steps[: step.position - 1]:
        if earlier.completed_at is None:
            earlier.started_at = earlier.started_at or now
            earlier.completed_at = now
            changes.append(("step.completed", earlier.name))

    later_started = [s for s in tracker.steps[step.position :] if s.started_at is not None]
    if action == START:
        # "Started" already holds for a step that has started, even if it has
        # since completed: a retried start must not undo work. Only a start on
        # a step *behind* the work (a later step has started) is rework.
        if step.started_at is None or later_started:
            if step.completed_at is not None:
                changes.append(("step.reopened", step.name))
            if step.started_at is None or step.completed_at is not None:
                step.started_at = now
                changes.append(("step.started", step.name))
            step.completed_at = None
            for later in later_started:
                later.started_at = later.completed_at = None
                changes.append(("step.reset", later.name))
    elif step.completed_at is None:
        step.started_at = step.started_at or now
        step.completed_at = now
        changes.append(("step.completed", step.name))

    if not changes:
        return False
    last = tracker.steps[-1]
    tracker.completed_at = last.completed_at
    tracker.updated_at = now
    tracker.step_due_at = step_due_at(tracker)
    # The update's own step carries the action: its event is the one status
    # change a webhook reports (closing earlier steps or resetting later
    # ones are part of it). Without one, the last change stands for it.
    named = [i for i, (kind, name) in enumerate(changes)
             if name == step.name and kind in ("step.started", "step.completed")]
    marked = named[-1] if named else len(changes) - 1
    events = [
        _event(tracker, event_type, actor, now, name, action if i == marked else None)
        for i, (event_type, name) in enumerate(changes)
    ]
    if tracker.completed_at is not None:
        events.append(_event(tracker, "tracker.completed", actor, now))
    save_changes(session, tracker, events)
    return True


def set_ready_by(session, tracker: TrackerRecord, ready_by, actor: Actor) -> bool:
    """Promise (or, with None, stop promising) a ready date; return whether it changed."""
    if ready_by == tracker.ready_by:
        return False
    now = utcnow()
    tracker.ready_by, tracker.updated_at = ready_by, now
    save_ready_by(session, tracker, _event(tracker, "tracker.estimate_set", actor, now))
    return True
