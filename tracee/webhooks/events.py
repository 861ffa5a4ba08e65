"""What a delivery sends: the event's id and its JSON body.

The body is rebuilt from the audit trail as of the event (replaying the
tracker's events up to the end of the change it belongs to), so the tracker
shown is the tracker as the change left it, identical on every retry, and
nothing beyond the event row is written while the request runs.
"""

import json
import uuid
from collections import namedtuple

from sqlalchemy import and_, bindparam, literal_column, or_, select, union_all

from tracee.api.v1.representation import iso, tracker_detail
from tracee.driver_select import DriverSelect
from tracee.messages.payload import MESSAGE_EVENTS, message_payload
from tracee.messages.service import RECEIVED
from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import TrackerEvent
from tracee.tracking.reads import TRACKER_WITH_STEPS, tracker_from_rows
from tracee.webhooks.models import TEST_EVENT

# Fixed forever: event ids must not change between retries or releases.
_EVENT_NAMESPACE = uuid.UUID("4f1d3c2e-9a57-4b7e-8a44-2b8f1f0c6d11")
_events = TrackerEvent.__table__
_OWN = and_(_events.c.tenant_id == bindparam("tenant"),
            _events.c.tracker_id == bindparam("tracker"))
# The events up to this one and the rest of the change it belongs to: a
# change writes all its events with one time, and a rework's resets of
# later steps come after the event that reports it.
EVENTS_UP_TO = (
    select(_events.c.seq, _events.c.type, _events.c.process, _events.c.created_at,
           _events.c.action)
    .where(_OWN, or_(
        _events.c.seq <= bindparam("seq"),
        _events.c.created_at == select(_events.c.created_at)
        .where(_OWN, _events.c.seq == bindparam("seq")).scalar_subquery(),
    ))
    .order_by(_events.c.seq)
)
Event = namedtuple("Event", "seq type process created_at action")


def _nulls(columns) -> list:
    return [literal_column("NULL", type_=c.type).label(f"null_{i}")
            for i, c in enumerate(columns)]


# The tracker with its steps, then its events up to this one, in one
# statement: a union, each part padded with NULLs in the other's columns and
# told apart by ``part``. Preparing a delivery is mostly per-statement work
# (the driver's and the database's), so this is a statement fewer each.
_TRACKER_WIDTH = len(TRACKER_WITH_STEPS.selected_columns)
_STEP_POSITION = 1 + [c.name for c in TRACKER_WITH_STEPS.selected_columns].index("position")
TRACKER_AND_EVENTS = union_all(
    TRACKER_WITH_STEPS.order_by(None).add_columns(
        literal_column("0").label("part"), *_nulls(EVENTS_UP_TO.selected_columns)),
    EVENTS_UP_TO.order_by(None).with_only_columns(
        *_nulls(TRACKER_WITH_STEPS.selected_columns), literal_column("1"),
        *EVENTS_UP_TO.selected_columns),
).order_by(*(literal_column(str(n)) for n in (
    _TRACKER_WIDTH + 1, _STEP_POSITION, _TRACKER_WIDTH + 2)))  # part, step, event seq
_READ_TRACKER_AND_EVENTS = DriverSelect(TRACKER_AND_EVENTS)


def tracker_and_events(rows) -> tuple:
    """The tracker record (None if gone) and its events (``Event``) from
    ``TRACKER_AND_EVENTS``'s rows."""
    tracker = tracker_from_rows([row[:_TRACKER_WIDTH] for row in rows if row[_TRACKER_WIDTH] == 0])
    return tracker, [Event._make(row[_TRACKER_WIDTH + 1:]) for row in rows
                     if row[_TRACKER_WIDTH] == 1]


def tracker_and_events_params(tenant_id: int, tracker_id: int, seq: int) -> dict:
    return {"tenant_id": tenant_id, "id": tracker_id, "tenant": tenant_id, "tracker": tracker_id,
            "seq": seq}


def event_id(tenant_id: int, tracker_id: int | None, seq: int | None, delivery_id: int) -> str:
    """The webhook-id: the same for an event on every retry, unique across tenants."""
    name = f"{tenant_id}/{tracker_id}/{seq}" if tracker_id is not None else f"test/{delivery_id}"
    return "evt_" + uuid.uuid5(_EVENT_NAMESPACE, name).hex


def _replay(tracker, events):
    """The tracker as it stood after ``events`` (its own, in order).

    Replays into ``tracker`` and its own step records, which were made from
    its rows for this one body: a ``dataclasses.replace`` of each step had
    cost more Python calls than the rest of the replay, and one of the
    tracker a fifth of building the body."""
    named = {e.process for e in events if e.process}
    steps = [s for s in tracker.steps if tracker.template_slug is not None or s.name in named]
    for step in steps:
        step.started_at = step.completed_at = None
    by_name = {s.name: s for s in steps}
    for event in events:
        step = by_name.get(event.process)
        if step is None:
            continue
        if event.type == "step.started":
            step.started_at, step.completed_at = event.created_at, None
        elif event.type == "step.completed":
            step.started_at = step.started_at or event.created_at
            step.completed_at = event.created_at
        elif event.type == "step.reopened":
            step.completed_at = None
        elif event.type == "step.reset":
            step.started_at = step.completed_at = None
    tracker.steps, tracker.updated_at = steps, events[-1].created_at
    tracker.completed_at = steps[-1].completed_at if steps else None
    tracker.event_seq = events[-1].seq
    return tracker


def tracker_body(session, urls, event_type: str, tracker_id: int, seq: int) -> bytes | None:
    """The body of a tracker event, or None if the tracker or event is gone."""
    tracker, events = tracker_and_events(_READ_TRACKER_AND_EVENTS.rows(
        session.connection(), tracker_and_events_params(require_tenant(session), tracker_id, seq)))
    if tracker is None:
        return None
    message = None
    if event_type == RECEIVED:
        message = message_payload(session, tracker_id, seq)
    return body_from_rows(urls, event_type, tracker, events, seq, message)


def body_from_rows(urls, event_type: str, tracker, events, seq: int,
                   message: dict | None = None) -> bytes | None:
    """The body of a tracker event from its tracker and events (``tracker_and_events``)
    (and, for ``tracker.message_received``, the message as its payload shows it)."""
    event = next((e for e in events if e.seq == seq), None)
    if event is None:
        return None
    # Messages are not progress: the tracker is replayed from its step events.
    progress = [e for e in events if e.type not in MESSAGE_EVENTS]
    data = {"tracker": tracker_detail(_replay(tracker, progress), urls)}
    if event_type == RECEIVED:
        data["message"] = message
    if event_type == "tracker.status_changed":
        step = next(s for s in data["tracker"]["steps"] if s["name"] == event.process)
        data["change"] = {"process": event.process, "action": event.action,
                          "status": step["status"]}
    data["sequence"] = seq
    return _encode(event_type, event.created_at, data)


def test_body(endpoint_id: int, created_at) -> bytes:
    data = {"endpoint_id": endpoint_id, "message": "A test event from Tracee."}
    return _encode(TEST_EVENT, created_at, data)


# Made once: json.dumps with options makes an encoder per call.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _encode(event_type: str, at, data: dict) -> bytes:
    body = {"type": event_type, "timestamp": iso(at), "data": data}
    return _JSON.encode(body).encode()
