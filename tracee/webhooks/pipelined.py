"""Preparing and recording deliveries a batch at a time, on PostgreSQL.

Through the Session, a delivery waited for the database eleven times: BEGIN,
the claim check, the endpoint, the tracker, its events, COMMIT, then BEGIN,
the queue row moved on, the attempt, COMMIT. Here the worker's loop prepares
every delivery it has just claimed in one psycopg pipeline (two reads
each: the claim check, then the endpoint and the tracker with its events), and
records the attempts that have come back in another (one statement each, and
one for the endpoint when its failing streak starts or ends): a round trip
per batch, and one pooled connection, instead of two per delivery. The reads
are the Session path's own (compiled from the same SQLAlchemy constructs),
and row-level security applies as on every other path.

No BEGIN or COMMIT: PostgreSQL runs the statements up to a Sync as one
implicit transaction, here one per batch. Each delivery's claim check binds
its tenant as it reads the queue row (the directory-row way,
``rls_tenant_of``), just before that delivery's reads, which also name the
tenant. A claim no longer ours binds nothing, so the reads after it run
under the tenant before (or none), where rows of this delivery's tenant are
not visible, and their result is discarded anyway. A Sync per delivery
would scope each binding to its own statements, but psycopg waits for a
Sync's results before sending more: a round trip per delivery, which made
the preparing loop the slowest stage of the worker (14 of 19 ms per batch
of 8). Recording writes the batch in one transaction the same way, each
delivery's statement binding its own tenant as it moves the row.

Only the common cases run here: a tracker event to an enabled endpoint, and
any outcome but one that disables the endpoint. Anything else (a lost
claim, a disabled endpoint, a vanished tracker, a test event or a message,
a 410, a streak long enough to disable) is left to the Session path, which
handles every case.
"""

import logging
from contextlib import contextmanager
from functools import cache

import psycopg

from tracee.leases import lease_params
from tracee.messages.service import RECEIVED
from tracee.statements import utc_rows
from tracee.webhooks import delivery, events
from tracee.webhooks.models import PENDING, TEST_EVENT, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

_queue = WebhookDelivery.__table__

# The queue row moved on and its attempt logged, in one statement: no
# attempt is written unless this claim still held the row. The tenant is
# bound as the row is moved (the queue has no row-level security), before
# the attempt row reaches the policy's check; were it not, the check would
# refuse the row (no tenant matches none), never admit another tenant's.
# (The casts: a NULL parameter has no type of its own in a select list.)
_RECORD = f"""
WITH moved AS (
    UPDATE {_queue.name} SET state = %(state)s, attempts = %(number)s,
        next_attempt_at = %(next_attempt_at)s, finished_at = %(finished_at)s, manual = false,
        claimed_until = NULL, claim_token = NULL
    WHERE id = %(delivery_id)s AND claim_token = %(token)s
    RETURNING id, set_config('app.tenant_id', tenant_id::text, true) AS bound
)
INSERT INTO {WebhookAttempt.__tablename__} (tenant_id, delivery_id, number, endpoint_id,
    event_id, event_type, attempted_at, status, duration_ms, error, response_body,
    next_attempt_at)
SELECT %(tenant_id)s, id, %(number)s, %(endpoint_id)s, %(event_id)s, %(event_type)s,
    %(attempted_at)s, %(status)s::integer, %(duration_ms)s, %(error)s::text,
    %(response_body)s::text, %(next_attempt_at)s::timestamptz
FROM moved WHERE bound IS NOT NULL
"""


@cache
def _sql(dialect) -> dict:
    def compiled(statement) -> str:
        return str(statement.compile(dialect=dialect))

    return {
        "held": compiled(delivery.STILL_MINE),
        "delivery_rows": compiled(events.DELIVERY_ROWS),
        delivery.START_STREAK: compiled(delivery.START_STREAK),
        delivery.END_STREAK: compiled(delivery.END_STREAK),
    }


@contextmanager
def _autocommit(engine):
    """A pooled psycopg connection outside any explicit transaction, and its
    :class:`_Cursors`. A pipeline on it waits once, when it ends: fetch after
    that, not inside."""
    pooled = engine.raw_connection()
    conn = pooled.driver_connection
    cursors = pooled.info.get(_CURSORS)
    if cursors is None or cursors.conn is not conn:
        cursors = pooled.info[_CURSORS] = _Cursors(conn)
    try:
        conn.autocommit = True
        yield conn, cursors
    finally:
        try:
            conn.autocommit = False
        finally:
            pooled.close()


_CURSORS = "tracee.webhooks.pipelined.cursors"


class _Cursors:
    """Cursors kept with their pooled connection, one per statement and place
    in a batch. ``conn.execute`` made a cursor and a transformer per
    statement, which looked up each parameter's dumper afresh: kept, the
    driver's share of a delivery fell from 218 Python calls to 162 (cProfile,
    1,000 deliveries). In a pipeline a cursor holds only the result of its
    last statement, hence one per place. (``tracee.driver_select`` keeps one
    per connection for the API's reads; the two could share one helper.)"""

    def __init__(self, conn):
        self.conn = conn
        self._kept = {}

    def __call__(self, name, place: int = 0):
        cursor = self._kept.get((name, place))
        if cursor is None:
            cursor = self._kept[name, place] = self.conn.cursor()
        return cursor


@cache
def _claim_sql(dialect) -> tuple[str, dict]:
    compiled = delivery.CLAIM.compile(dialect=dialect)
    return compiled.string, dict(compiled.params)  # the latter: its constants' values


def claim_and_prepare(engine, settings, box, urls, limit: int):
    """Claim up to ``limit`` due deliveries and prepare them (:func:`prepare`),
    on one pooled connection: ``(claimed, what to send for each)``.

    The claim is ``delivery.claim``'s statement, sent on the driver's
    connection: through a SQLAlchemy Connection of its own it cost 0.43-0.52
    ms of CPU per claim of 8, here 0.25-0.27, and one pool checkout fewer.
    """
    sql, constants = _claim_sql(engine.dialect)
    with _autocommit(engine) as (conn, cursors):
        utc = utc_rows(conn)
        rows = cursors("claim").execute(
            sql, {**constants, **lease_params(settings.claim_seconds, limit)}).fetchall()
        claimed = [delivery.Claimed(*utc(row)) for row in rows]
        return claimed, _prepare(engine.dialect, conn, cursors, box, urls, claimed)


def prepare(engine, box, urls, batch: list[delivery.Claimed]) -> list[delivery.Outgoing | None]:
    """What to send for each delivery of ``batch``, in one round trip; None
    where the Session path must decide."""
    with _autocommit(engine) as (conn, cursors):
        return _prepare(engine.dialect, conn, cursors, box, urls, batch)


def _prepare(dialect, conn, cursors, box, urls, batch):
    # A test event, or a message (whose payload is read by its own module): the Session way.
    simple = [i for i, c in enumerate(batch)
              if c.event_type not in (TEST_EVENT, RECEIVED) and c.tracker_id is not None]
    ready = [None] * len(batch)
    if not simple:
        return ready
    sql = _sql(dialect)
    sent = []
    try:
        with conn.pipeline():  # one Sync, at the end (see above)
            for place, i in enumerate(simple):
                claimed = batch[i]
                tenant, tracker = claimed.tenant_id, claimed.tracker_id
                sent.append((i, (
                    cursors("held", place).execute(
                        sql["held"], {"delivery": claimed.id, "token": claimed.token}),
                    cursors("delivery_rows", place).execute(
                        sql["delivery_rows"], events.delivery_rows_params(
                            tenant, claimed.endpoint_id, tracker, claimed.seq)),
                )))
        utc = utc_rows(conn)
        for i, results in sent:
            ready[i] = _outgoing(box, urls, batch[i], utc, *results)
    except Exception:  # the claims stand: each thread prepares its own
        log.exception("preparing %d deliveries in a pipeline failed; each goes the "
                      "Session way", len(simple))
        return [None] * len(batch)
    return ready


def _outgoing(box, urls, claimed, utc, held, delivery_rows):
    if held.fetchone() is None:
        return None
    endpoint, tracker, trail = events.from_delivery_rows(
        [utc(row) for row in delivery_rows.fetchall()])
    if endpoint is None or not endpoint.enabled or tracker is None:
        return None
    body = events.body_from_rows(urls, claimed.event_type, tracker, trail, claimed.seq)
    if body is None:
        return None
    return delivery.outgoing(box, endpoint, body)


Sent = tuple[delivery.Claimed, delivery.Outgoing, delivery.Outcome]


def _record_params(claimed, _outgoing, outcome, moved) -> dict:
    return {**delivery.attempt_row(claimed, outcome, moved), "state": moved.state,
            "finished_at": None if moved.state == PENDING else moved.at, "token": claimed.token}


def record(engine, settings, done: list[Sent]) -> list[Sent]:
    """Record the attempts of ``done`` in one round trip; return those left to
    the Session path (an attempt that disables its endpoint)."""
    moves = [(item, delivery.step_after(settings, *item)) for item in done]
    left = [item for item, moved in moves if moved.disable_reason is not None]
    moves = [(item, moved) for item, moved in moves if moved.disable_reason is None]
    if not moves:
        return left
    sql = _sql(engine.dialect)
    try:
        # One transaction for the batch, unlike preparing: each commit waits
        # for its WAL flush, and those waits had made recording the slowest
        # step of a delivery. Each delivery's statement binds its own tenant
        # as it moves the row; one whose claim was lost binds none, and its
        # endpoint update, naming its own tenant under the tenant bound
        # before it, touches no row.
        #
        # Those that leave their endpoint's streak alone go in one executemany
        # (one cursor, not one per delivery); the others each with their
        # endpoint's update, right after the record that binds its tenant.
        with _autocommit(engine) as (conn, cursors), conn.pipeline():
            plain = [_record_params(*item, moved) for item, moved in moves if moved.streak is None]
            if plain:
                cursors("record").executemany(_RECORD, plain)
            for (claimed, outgoing, outcome), moved in moves:
                if moved.streak is not None:
                    conn.execute(_RECORD, _record_params(claimed, outgoing, outcome, moved))
                    conn.execute(sql[moved.streak], {"tenant": claimed.tenant_id,
                                                     "endpoint": claimed.endpoint_id,
                                                     "since": moved.at})
    except psycopg.Error:
        # Nothing of the batch is recorded: sent again once the claims expire.
        log.exception("recording %d attempts in a pipeline failed", len(moves))
    return left
