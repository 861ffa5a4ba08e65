"""When an order should be ready, and whether it is running late.

Template steps may carry an expected duration, copied to a tracker's steps
when it is created. The step that governs the estimate is the *active* one:
the step under way, or, between steps, the next to start (timed from when
the one before it ended, since the order is waiting on it). Its due time is
``step_due_at``, kept on the tracker row by every change so the dashboard's
"late" filter is a comparison; the ready date is that due time (or now, if
it has passed) plus the expected time of every step after it.

Honesty over promise: once the active step runs past its expectation the
estimate is not stretched in silence: the order is *late*, and the page says
"taking longer than expected" instead of a date it cannot keep. A ready
date the business set (``ready_by``) stands in for the computed one; the
order is late once that date has passed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_EXPECTED_MINUTES = 60 * 24 * 90  # 90 days: a step longer than a season is not a step


@dataclass(frozen=True, slots=True)
class Estimate:
    ready_at: datetime | None  # None: nothing to promise (finished, late, or durations unknown)
    source: str | None  # "set" (the business's date) or "expected" (from the steps)
    late: bool  # unfinished, and past the set date (or, without one, past the step's due time)
    late_after: datetime | None  # when it turns late if nothing moves (pages switch then)
    overdue_step: str | None  # the active step, once past its due time: for the business only


NO_ESTIMATE = Estimate(None, None, False, None, None)


def _active_index(steps) -> int | None:
    for i, step in enumerate(steps):
        if step.completed_at is None:
            return i
    return None


def step_due_at(tracker) -> datetime | None:
    """When the active step should end, or None (finished, or no expectation for it)."""
    steps = tracker.steps
    active = _active_index(steps)
    if tracker.completed_at is not None or active is None:
        return None
    step = steps[active]
    if step.expected_minutes is None:
        return None
    if step.started_at is not None:
        anchor = step.started_at
    elif active > 0:
        anchor = steps[active - 1].completed_at
    else:
        anchor = tracker.created_at
    return anchor + timedelta(minutes=step.expected_minutes)


def estimate(tracker, now: datetime) -> Estimate:
    """The tracker's estimate at ``now``, from its steps and stored due time.

    A date the business set is its promise to the customer: while it holds,
    a step running over is the business's to see, not a late order.
    """
    if tracker.completed_at is not None:
        return NO_ESTIMATE
    active = _active_index(tracker.steps)
    due = tracker.step_due_at
    overdue = active is not None and due is not None and due < now
    overdue_step = tracker.steps[active].name if overdue else None
    if tracker.ready_by is not None:
        if tracker.ready_by < now:
            return Estimate(None, "set", True, None, overdue_step)
        return Estimate(tracker.ready_by, "set", False, tracker.ready_by, overdue_step)
    if active is None:
        return NO_ESTIMATE
    if overdue_step is not None:
        return Estimate(None, "expected", True, None, overdue_step)
    after = [s.expected_minutes for s in tracker.steps[active + 1:]]
    if due is None or None in after:
        return Estimate(None, None, False, due, None)
    ready = due + timedelta(minutes=sum(after))
    return Estimate(ready, "expected", False, due, None)
