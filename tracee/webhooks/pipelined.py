"""Preparing and recording a delivery in one round trip each, on PostgreSQL.

Through the Session, a delivery waited for the database eleven times:
BEGIN, the claim check, the endpoint, the tracker, its events, COMMIT, then
BEGIN, the queue row moved on, the attempt, COMMIT. Here preparing sends
its four reads in one psycopg pipeline, which waits once, at the Sync that
ends it; the reads are the Session path's own (compiled from the same
SQLAlchemy constructs), and row-level security applies as on every other
path. Recording a success is one statement.

No BEGIN or COMMIT: PostgreSQL runs the statements of a pipeline up to its
Sync as one implicit transaction, so ``set_config(..., true)`` binds the
tenant for exactly those statements. Preparing binds the tenant as the
claim check reads the queue row (the directory-row way, ``rls_tenant_of``):
if the claim is no longer ours, no tenant is bound and the tenant tables
show nothing. A single statement is atomic by itself.

Only the common case runs here: a tracker event, an enabled endpoint, a
success to an endpoint that was not failing. Anything else (a lost claim, a
disabled endpoint, a vanished tracker, a test event, a failure to count)
returns None / False, and the worker goes the Session way, which handles
every case.
"""

from collections import namedtuple
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

from tracee.db import utcnow
from tracee.messages.service import RECEIVED
from tracee.tracking.reads import TRACKER_WITH_STEPS, tracker_from_rows
from tracee.webhooks import delivery, events
from tracee.webhooks.models import DELIVERED, TEST_EVENT, WebhookAttempt, WebhookDelivery

_queue = WebhookDelivery.__table__
_Event = namedtuple("_Event", "seq type process created_at action")
_Endpoint = namedtuple("_Endpoint", "url enabled secret previous_secret previous_secret_until "
                                    "failing_since")

# The queue row moved on and its attempt logged, in one statement: no
# attempt is written unless this claim still held the row. The tenant is
# bound as the row is moved (the queue has no row-level security), before
# the attempt row reaches the policy's check; were it not, the check would
# refuse the row (no tenant matches none), never admit another tenant's.
_RECORD_SUCCESS = f"""
WITH moved AS (
    UPDATE {_queue.name} SET state = %(state)s, attempts = %(number)s, next_attempt_at = NULL,
        finished_at = %(now)s, manual = false, claimed_until = NULL, claim_token = NULL
    WHERE id = %(delivery)s AND claim_token = %(token)s
    RETURNING id, set_config('app.tenant_id', tenant_id::text, true) AS bound
)
INSERT INTO {WebhookAttempt.__tablename__} (tenant_id, delivery_id, number, endpoint_id,
    event_id, event_type, attempted_at, status, duration_ms, error, response_body,
    next_attempt_at)
SELECT %(tenant)s, id, %(number)s, %(endpoint)s, %(event_id)s, %(event_type)s, %(now)s,
    %(status)s, %(duration_ms)s, NULL, %(body)s, NULL
FROM moved WHERE bound IS NOT NULL
"""


@cache
def _sql(dialect) -> dict:
    def compiled(statement) -> str:
        return str(statement.compile(dialect=dialect))

    return {
        "held": compiled(delivery.STILL_MINE),
        "endpoint": compiled(delivery.ENDPOINT),
        "tracker": compiled(TRACKER_WITH_STEPS),
        "events": compiled(events.EVENTS_UP_TO),
    }


def _utc(conn):
    """What UTCDateTime does for the Session path: rows in UTC, whatever the
    connection's TimeZone (a no-op where it is UTC, as it usually is)."""
    if getattr(conn.info.timezone, "key", None) in ("UTC", "Etc/UTC"):
        return tuple
    return lambda row: tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)


@contextmanager
def _autocommit(engine):
    """A pooled psycopg connection outside any explicit transaction. A
    pipeline on it waits once, when it ends: fetch after that, not inside."""
    pooled = engine.raw_connection()
    conn = pooled.driver_connection
    try:
        conn.autocommit = True
        yield conn
    finally:
        try:
            conn.autocommit = False
        finally:
            pooled.close()


def prepare(engine, box, urls, claimed: delivery.Claimed) -> delivery.Outgoing | None:
    """What to send, or None when the Session path must decide."""
    # A test event, or a message (whose payload is read by its own module): the Session way.
    if claimed.event_type in (TEST_EVENT, RECEIVED) or claimed.tracker_id is None:
        return None
    sql = _sql(engine.dialect)
    with _autocommit(engine) as conn:
        with conn.pipeline():
            held = conn.execute(sql["held"], {"delivery": claimed.id, "token": claimed.token})
            endpoint = conn.execute(sql["endpoint"], {"tenant": claimed.tenant_id,
                                                      "endpoint": claimed.endpoint_id})
            tracker = conn.execute(sql["tracker"], {"tenant_id": claimed.tenant_id,
                                                    "id": claimed.tracker_id})
            trail = conn.execute(sql["events"], {"tenant": claimed.tenant_id,
                                                 "tracker": claimed.tracker_id,
                                                 "seq": claimed.seq})
        utc = _utc(conn)
        held, endpoint = held.fetchone(), endpoint.fetchone()
        tracker_rows, event_rows = tracker.fetchall(), trail.fetchall()
    if held is None or endpoint is None:
        return None
    endpoint = _Endpoint._make(utc(endpoint))
    tracker = tracker_from_rows([utc(row) for row in tracker_rows])
    if not endpoint.enabled or tracker is None:
        return None
    body = events.body_from_rows(urls, claimed.event_type, tracker,
                                 [_Event._make(utc(row)) for row in event_rows], claimed.seq)
    if body is None:
        return None
    return delivery.outgoing(box, endpoint, body)


def record_success(engine, claimed: delivery.Claimed, outgoing: delivery.Outgoing,
                   outcome: delivery.Outcome) -> bool:
    """Record a success to an endpoint that was not failing; False when the
    Session path must record this outcome."""
    if not outcome.ok or outgoing.failing_since is not None:
        return False
    with _autocommit(engine) as conn:  # one statement: atomic, one round trip
        conn.execute(_RECORD_SUCCESS, {
            "state": DELIVERED, "number": claimed.attempts + 1, "now": utcnow(),
            "delivery": claimed.id, "token": claimed.token, "tenant": claimed.tenant_id,
            "endpoint": claimed.endpoint_id, "event_id": claimed.event_id,
            "event_type": claimed.event_type, "status": outcome.status,
            "duration_ms": outcome.duration_ms, "body": outcome.body,
        })
    return True
