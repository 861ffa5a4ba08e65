"""The JSON a tracker is shown as. Times are ISO 8601 in UTC with a ``Z``.

A tracker may be an ORM Tracker (lists) or a TrackerRecord (reads, changes):
they share TrackerState and StepState.
"""

from tracee.db import utcnow
from tracee.tracking.estimates import estimate
from tracee.tracking.models import TrackerState


def iso(value):
    if value is None:
        return None
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _with_expected(shown: dict, minutes: int | None) -> dict:
    """A step's expected duration only where one is set: the steps of the
    documented examples (which have none) stay exactly as documented."""
    if minutes is not None:
        shown["expected_minutes"] = minutes
    return shown


def tracker_summary(tracker: TrackerState, urls) -> dict:
    current = tracker.current_step()
    token = str(tracker.tracking_token)  # a UUID: formatted once, not once per address
    promised = estimate(tracker, utcnow())
    return {
        "id": tracker.id,
        "number": tracker.number,
        "name": tracker.name,
        "template": tracker.template_slug,
        "tracking_token": token,
        "tracking_url": urls.tracking(token),
        "api_url": urls.api(tracker.id),
        "embed_code": urls.embed_code(token),
        "qr_code_url": urls.api_qr(tracker.id),
        "current_process": current.name if current else None,
        "is_completed": tracker.is_completed,
        "estimated_ready_at": iso(promised.ready_at),
        "estimate_source": promised.source,
        "is_late": promised.late,
        "created_at": iso(tracker.created_at),
        "updated_at": iso(tracker.updated_at),
    }


def tracker_detail(tracker: TrackerState, urls) -> dict:
    """The summary, ``history`` (the steps started, in order) and every step.

    One walk over the steps for both lists: a started step is shown in each,
    its status and times worked out once.
    """
    history, steps = [], []
    for step in tracker.steps:
        # No call for a time the step does not have yet: most steps of an open
        # order have neither (two calls per step on every keyed GET).
        started_at, completed_at = step.started_at, step.completed_at
        started = None if started_at is None else iso(started_at)
        completed = None if completed_at is None else iso(completed_at)
        status = step.status
        if started_at is not None:
            history.append({"process": step.name, "status": status,
                            "started_at": started, "completed_at": completed})
        steps.append(_with_expected({
            "name": step.name,
            "order": step.position,
            "visible": step.visible,
            "status": status,
            "started_at": started,
            "completed_at": completed,
        }, step.expected_minutes))
    return {**tracker_summary(tracker, urls), "history": history, "steps": steps}


def template_json(spec) -> dict:
    return {
        "slug": spec.slug,
        "name": spec.name,
        "builtin": spec.builtin,
        "steps": [
            _with_expected({"name": s.name, "order": i, "visible": s.visible},
                           s.expected_minutes)
            for i, s in enumerate(spec.steps, start=1)
        ],
    }
