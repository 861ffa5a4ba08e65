"""Delivering one queued event: claim, prepare, send, record.

Claiming is one statement over the queue for every tenant (the queue has
no row-level security); everything after it runs in a session bound to the
delivery's tenant, so the endpoint, the secrets, the payload and the log
are reached through the tenant's own policies. No transaction is open
while a request is on the wire.
"""

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import requests
from sqlalchemy import bindparam, delete, exists, insert, null, select, update
from sqlalchemy.orm import aliased

from tracee.db import utcnow
from tracee.leases import claim_statement, held, lease_params
from tracee.tenancy.scope import bind_tenant, read_directory_row, rls_tenant_of
from tracee.webhooks import events, signing
from tracee.webhooks.config import WebhookSettings
from tracee.webhooks.endpoints import find_endpoint, set_enabled
from tracee.webhooks.models import (
    DELIVERED,
    FAILED,
    PAUSED,
    PENDING,
    TEST_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tracee.webhooks.signing_secrets import SecretBox
from tracee.webhooks.ssrf import TargetRefused

log = logging.getLogger(__name__)
BODY_EXCERPT = 1024
_queue = WebhookDelivery.__table__
_earlier = aliased(WebhookDelivery.__table__)
_endpoints = WebhookEndpoint.__table__

# Due (tracee.leases), and first in line for its endpoint and tracker: the
# next event of a tracker waits until the one before it is delivered or given up.
CLAIM = claim_statement(
    _queue,
    ~exists().where(
        _earlier.c.tenant_id == _queue.c.tenant_id,
        _earlier.c.endpoint_id == _queue.c.endpoint_id,
        _earlier.c.tracker_id == _queue.c.tracker_id,
        _earlier.c.seq < _queue.c.seq,
        _earlier.c.state == PENDING,
    ),
    returning=(_queue.c.id, _queue.c.tenant_id, _queue.c.endpoint_id, _queue.c.tracker_id,
               _queue.c.seq, _queue.c.event_type, _queue.c.attempts, _queue.c.created_at,
               _queue.c.manual, _queue.c.claim_token),
)
MINE = held(_queue, "delivery")
# The queue is read before the tenant is bound, like a directory table: the
# row's tenant_id sets the transaction's tenant for row-level security as it
# is read (rls_tenant_of), which saves binding a round trip of its own.
STILL_MINE = select(_queue.c.id, rls_tenant_of(_queue.c.tenant_id)).where(MINE)


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    endpoint_id: int
    tracker_id: int | None
    seq: int | None
    event_type: str
    attempts: int
    created_at: datetime
    manual: bool
    token: str

    @cached_property  # signed, then logged: a uuid5 each
    def event_id(self) -> str:
        return events.event_id(self.tenant_id, self.tracker_id, self.seq, self.id)


@dataclass(frozen=True)
class Outgoing:
    url: str
    secrets: list[str]
    body: bytes
    failing_since: datetime | None


@dataclass(frozen=True)
class Outcome:
    status: int | None
    duration_ms: int
    error: str | None = None
    body: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


_MOVE = (
    update(_queue).where(MINE)
    .values(state=bindparam("new_state"), attempts=bindparam("new_attempts"),
            next_attempt_at=bindparam("new_next_attempt_at"),
            finished_at=bindparam("new_finished_at"), manual=False, claimed_until=None,
            claim_token=None)
    .returning(_queue.c.id, rls_tenant_of(_queue.c.tenant_id))
)


def claim(connection, settings: WebhookSettings, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries for ``claim_seconds``; commit after."""
    rows = connection.execute(CLAIM, lease_params(settings.claim_seconds, limit)).all()
    return [Claimed(*row) for row in rows]


def release(connection, claimed: list[Claimed]) -> None:
    """Give up claims not acted on: the deliveries are due again at once, for any worker."""
    connection.execute(update(_queue).where(MINE).values(claimed_until=None, claim_token=None),
                       [{"delivery": c.id, "token": c.token} for c in claimed])


def _release(session, claimed: Claimed, **values) -> None:
    session.connection().execute(
        update(_queue).where(MINE).values(claimed_until=None, claim_token=None, **values),
        {"delivery": claimed.id, "token": claimed.token})


def prepare(session, box: SecretBox, urls, claimed: Claimed) -> Outgoing | None:
    """What to send, or None if nothing is to be sent. Binds ``session`` (unbound,
    fresh) to the delivery's tenant."""
    if read_directory_row(session, STILL_MINE,
                          {"delivery": claimed.id, "token": claimed.token}) is None:
        return None  # the claim expired and was taken, or the endpoint was deleted
    bind_tenant(session, claimed.tenant_id)
    # The endpoint, the tracker and its events in one statement (no tracker for a test event).
    endpoint, tracker, trail = events.read_delivery_rows(
        session, claimed.endpoint_id, claimed.tracker_id, claimed.seq)
    if endpoint is None:
        return None
    if not endpoint.enabled:
        _release(session, claimed, state=PAUSED)
        return None
    if claimed.event_type == TEST_EVENT:
        body = events.test_body(claimed.endpoint_id, claimed.created_at)
    else:
        body = events.tracker_body(session, urls, claimed.event_type, tracker, trail, claimed.seq)
    if body is None:
        _release(session, claimed, state=FAILED, finished_at=utcnow())
        return None
    return outgoing(box, endpoint, body)


def outgoing(box: SecretBox, endpoint, body: bytes) -> Outgoing:
    """The request to send, from an ``events.Endpoint`` and the body."""
    keys = [box.open_cached(endpoint.secret)]
    if endpoint.previous_secret and endpoint.previous_secret_until > utcnow():
        keys.append(box.open_cached(endpoint.previous_secret))
    return Outgoing(endpoint.url, keys, body, endpoint.failing_since)


def send(http: requests.Session, claimed: Claimed, outgoing: Outgoing,
         settings: WebhookSettings) -> Outcome:
    """POST the event once: a 2xx within the timeout is success, anything else is not."""
    headers = signing.headers(outgoing.secrets, claimed.event_id, int(time.time()),
                              outgoing.body)
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        response = http.post(outgoing.url, data=outgoing.body, headers=headers, stream=True,
                             allow_redirects=False, timeout=(settings.timeout, settings.timeout))
        try:
            excerpt = response.raw.read(BODY_EXCERPT, decode_content=True)
        finally:
            response.close()
    except TargetRefused as exc:
        return Outcome(None, took(), f"refused: {exc}")
    except requests.Timeout:
        return Outcome(None, took(), f"no answer within {settings.timeout:g} s")
    except (requests.RequestException, OSError) as exc:
        return Outcome(None, took(), f"{type(exc).__name__}: {exc}"[:500])
    # Shown in the log as text; a NUL is no text (PostgreSQL refuses it).
    text = excerpt.decode("utf-8", "replace").replace("\x00", "\ufffd") if excerpt else None
    error = None
    if 300 <= response.status_code < 400:
        error = "redirects are not followed"
    elif not 200 <= response.status_code < 300:
        error = f"HTTP {response.status_code}"
    return Outcome(response.status_code, took(), error, text,
                   _retry_after(response.headers.get("Retry-After")))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def next_delay(settings: WebhookSettings, attempt: int, retry_after: float | None) -> float | None:
    """Seconds until attempt ``attempt + 1``, or None when the delivery is given up.

    The schedule's delay moved by the jitter, so failures at one moment do
    not all come back at the next; never sooner than the receiver's
    Retry-After, which is capped.
    """
    if attempt > len(settings.retry_delays):
        return None
    delay = settings.retry_delays[attempt - 1]
    delay *= 1 + random.uniform(-settings.jitter, settings.jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.retry_after_cap))
    return delay


@dataclass(frozen=True)
class Step:
    """Where an attempt leaves its delivery and its endpoint."""

    at: datetime
    number: int  # the attempt's
    state: str
    next_attempt_at: datetime | None
    # The endpoint's failing streak: START_STREAK, END_STREAK or None (unchanged).
    streak: object | None
    disable_reason: str | None  # the endpoint is to be disabled, and its owners told


# The endpoint's failing streak starts with the first failure after a success
# and ends with the next success.
_THIS_ENDPOINT = (_endpoints.c.tenant_id == bindparam("tenant"),
                  _endpoints.c.id == bindparam("endpoint"))
START_STREAK = (update(_endpoints)
                .where(*_THIS_ENDPOINT, _endpoints.c.failing_since.is_(None))
                .values(failing_since=bindparam("since")))
END_STREAK = (update(_endpoints)
              .where(*_THIS_ENDPOINT, _endpoints.c.failing_since.is_not(None))
              .values(failing_since=null()))


def step_after(settings: WebhookSettings, claimed: Claimed, outgoing: Outgoing,
               outcome: Outcome) -> Step:
    """What ``outcome`` does to the delivery and its endpoint (nothing is written here)."""
    now = utcnow()
    number = claimed.attempts + 1
    gone = outcome.status == 410
    delay = None if outcome.ok or gone or claimed.manual else next_delay(
        settings, number, outcome.retry_after)
    next_at = now + timedelta(seconds=delay) if delay is not None else None
    if outcome.ok:
        state = DELIVERED
    elif next_at is not None:
        state = PENDING
    else:
        state = FAILED
    streak = reason = None
    if outcome.ok:
        streak = END_STREAK if outgoing.failing_since is not None else None
    elif gone:
        reason = "the receiver answered 410 Gone"
    elif outgoing.failing_since is None:
        streak = START_STREAK
    elif now - outgoing.failing_since >= timedelta(days=settings.disable_after_days):
        reason = f"every delivery failed for {settings.disable_after_days:g} days"
    return Step(now, number, state, next_at, streak, reason)


def attempt_row(claimed: Claimed, outcome: Outcome, moved: Step) -> dict:
    """The delivery log's row for this attempt."""
    return {
        "tenant_id": claimed.tenant_id, "delivery_id": claimed.id, "number": moved.number,
        "endpoint_id": claimed.endpoint_id, "event_id": claimed.event_id,
        "event_type": claimed.event_type, "attempted_at": moved.at, "status": outcome.status,
        "duration_ms": outcome.duration_ms, "error": outcome.error,
        "response_body": outcome.body, "next_attempt_at": moved.next_attempt_at,
    }


def record(session, settings: WebhookSettings, claimed: Claimed, outgoing: Outgoing,
           outcome: Outcome) -> bool:
    """Log the attempt and move the delivery on; the endpoint too when it must.
    True when the endpoint was disabled by this attempt.

    Binds ``session`` (unbound, fresh) to the delivery's tenant as the
    delivery's row is moved.
    """
    moved = step_after(settings, claimed, outgoing, outcome)
    row = read_directory_row(session, _MOVE, {
        "delivery": claimed.id, "token": claimed.token, "new_state": moved.state,
        "new_attempts": moved.number, "new_next_attempt_at": moved.next_attempt_at,
        "new_finished_at": None if moved.state == PENDING else moved.at,
    })
    if row is None:
        return False  # our claim expired and another worker took it: its attempt counts
    bind_tenant(session, claimed.tenant_id)
    session.connection().execute(insert(WebhookAttempt.__table__),
                                 attempt_row(claimed, outcome, moved))
    return _follow_up_endpoint(session, claimed, moved)


def _follow_up_endpoint(session, claimed: Claimed, moved: Step) -> bool:
    """Clear or start the endpoint's failing streak; disable it after 410 or a long one.
    True when this disabled it (its owners are then told, once this commits)."""
    if moved.streak is not None:
        session.connection().execute(moved.streak, {
            "tenant": claimed.tenant_id, "endpoint": claimed.endpoint_id, "since": moved.at})
    reason = moved.disable_reason
    if reason is not None:
        endpoint = find_endpoint(session, claimed.endpoint_id)
        if endpoint is not None and endpoint.enabled:
            set_enabled(session, endpoint, False, reason)
            log.warning("webhook endpoint %s of tenant %s disabled: %s",
                        claimed.endpoint_id, claimed.tenant_id, reason)
            return True
    return False


def purge(connection, settings: WebhookSettings) -> int:
    """Forget deliveries finished more than ``keep_days`` ago (their attempts cascade)."""
    cutoff = utcnow() - timedelta(days=settings.keep_days)
    return connection.execute(
        delete(_queue).where(_queue.c.state.in_((DELIVERED, FAILED)),
                             _queue.c.finished_at < cutoff)).rowcount
