"""What a delivery sends: the event's id and its JSON body.

The body is rebuilt from the audit trail as of the event (replaying the
tracker's events up to the end of the change it belongs to), so the tracker
shown is the tracker as the change left it, identical on every retry, and
nothing beyond the event row is written while the request runs. The
endpoint it goes to is read in the same statement.
"""

import json
import uuid
from collections import namedtuple

from sqlalchemy import and_, bindparam, cast, literal_column, null, or_, select, union_all

from tracee.api.v1.representation import iso, tracker_detail
from tracee.driver_select import DriverSelect
from tracee.messages.payload import MESSAGE_EVENTS, message_payload
from tracee.messages.service import RECEIVED
from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import TrackerEvent
from tracee.tracking.reads import TRACKER_WITH_STEPS, tracker_from_rows
from tracee.webhooks.models import TEST_EVENT, WebhookEndpoint

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


_endpoints = WebhookEndpoint.__table__
ENDPOINT = select(
    _endpoints.c.url, _endpoints.c.enabled, _endpoints.c.secret, _endpoints.c.previous_secret,
    _endpoints.c.previous_secret_until, _endpoints.c.failing_since,
).where(_endpoints.c.tenant_id == bindparam("tenant"), _endpoints.c.id == bindparam("endpoint"))
Endpoint = namedtuple("Endpoint", "url enabled secret previous_secret previous_secret_until "
                                  "failing_since")


def _nulls(columns, part: str, typed: bool = False) -> list:
    # Typed in the first part: PostgreSQL resolves a union's column types two
    # parts at a time, and two untyped NULLs make text, which the third
    # part's column may not be. Short labels: psycopg parses a statement
    # longer than 4,096 bytes afresh on every execution (no cache).
    return [(cast(null(), c.type) if typed else null()).label(f"{part}{i}")
            for i, c in enumerate(columns)]


# The tracker with its steps, its events up to this one, then the endpoint,
# in one statement: a union, each part padded with NULLs in the others'
# columns and told apart by ``part``. Preparing a delivery is mostly
# per-statement work (the driver's and the database's), so each part joined
# is a statement fewer.
_TRACKER_WIDTH = len(TRACKER_WITH_STEPS.selected_columns)
_EVENTS_AT = _TRACKER_WIDTH + 1
_ENDPOINT_AT = _EVENTS_AT + len(EVENTS_UP_TO.selected_columns)
_STEP_POSITION = 1 + [c.name for c in TRACKER_WITH_STEPS.selected_columns].index("position")
DELIVERY_ROWS = union_all(
    TRACKER_WITH_STEPS.order_by(None).add_columns(
        literal_column("0").label("part"), *_nulls(EVENTS_UP_TO.selected_columns, "e", True),
        *_nulls(ENDPOINT.selected_columns, "w", True)),
    EVENTS_UP_TO.order_by(None).with_only_columns(
        *_nulls(TRACKER_WITH_STEPS.selected_columns, "t"), literal_column("1"),
        *EVENTS_UP_TO.selected_columns, *_nulls(ENDPOINT.selected_columns, "w")),
    ENDPOINT.with_only_columns(
        *_nulls(TRACKER_WITH_STEPS.selected_columns, "t"), literal_column("2"),
        *_nulls(EVENTS_UP_TO.selected_columns, "e"), *ENDPOINT.selected_columns),
).order_by(*(literal_column(str(n)) for n in (
    _EVENTS_AT, _STEP_POSITION, _EVENTS_AT + 1)))  # part, step, event seq
_READ_DELIVERY_ROWS = DriverSelect(DELIVERY_ROWS)


def from_delivery_rows(rows) -> tuple:
    """The endpoint (``Endpoint``), the tracker record and its events (``Event``)
    from ``DELIVERY_ROWS``'s rows; None for an endpoint or a tracker that is gone."""
    tracker_rows, trail, endpoint = [], [], None
    for row in rows:
        part = row[_TRACKER_WIDTH]
        if part == 0:
            tracker_rows.append(row[:_TRACKER_WIDTH])
        elif part == 1:
            trail.append(Event._make(row[_EVENTS_AT:_ENDPOINT_AT]))
        else:
            endpoint = Endpoint._make(row[_ENDPOINT_AT:])
    return endpoint, tracker_from_rows(tracker_rows), trail


def delivery_rows_params(tenant_id: int, endpoint_id: int, tracker_id: int | None,
                         seq: int | None) -> dict:
    return {"tenant_id": tenant_id, "id": tracker_id, "tenant": tenant_id, "tracker": tracker_id,
            "seq": seq, "endpoint": endpoint_id}


def read_delivery_rows(session, endpoint_id: int, tracker_id: int | None,
                       seq: int | None) -> tuple:
    """``from_delivery_rows`` of the bound tenant's endpoint, tracker and events."""
    return from_delivery_rows(_READ_DELIVERY_ROWS.rows(session.connection(), delivery_rows_params(
        require_tenant(session), endpoint_id, tracker_id, seq)))


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


def tracker_body(session, urls, event_type: str, tracker, events, seq: int) -> bytes | None:
    """The body of a tracker event from its ``read_delivery_rows``, or None if the
    tracker or event is gone."""
    if tracker is None:
        return None
    message = None
    if event_type == RECEIVED:
        message = message_payload(session, tracker.id, seq)
    return body_from_rows(urls, event_type, tracker, events, seq, message)


def body_from_rows(urls, event_type: str, tracker, events, seq: int,
                   message: dict | None = None) -> bytes | None:
    """The body of a tracker event from its tracker and events (``from_delivery_rows``)
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
