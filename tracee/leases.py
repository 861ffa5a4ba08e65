"""Leases on the rows of a work queue shared by every tenant (webhook
deliveries, customer mail jobs).

A worker claims due rows with one statement: it picks them ``FOR UPDATE
SKIP LOCKED`` (any number of workers side by side on PostgreSQL; SQLite
ignores it, its writes being serialised) and stamps them with a token and a
lease end, ``claimed_until``. Whatever the worker then writes names the row
and the token, so a worker whose lease expired (it hung, or was killed)
writes nothing, and the row is due again for another.

A queue table has ``id``, ``state``, ``next_attempt_at``, ``claimed_until``
and ``claim_token`` columns; a due row is ``pending``, its attempt time has
come, and it is unclaimed or its lease has ended.
"""

import secrets
from datetime import timedelta

from sqlalchemy import and_, bindparam, or_, select, update

from tracee.db import utcnow


def claim_statement(queue, *conditions, returning):
    """UPDATE … RETURNING ``returning`` of the due rows also meeting ``conditions``,
    oldest attempt first, at most ``:limit``; run it with :func:`lease_params`."""
    due = (
        select(queue.c.id)
        .where(
            queue.c.state == "pending",
            queue.c.next_attempt_at <= bindparam("now"),
            or_(queue.c.claimed_until.is_(None), queue.c.claimed_until < bindparam("now")),
            *conditions,
        )
        .order_by(queue.c.next_attempt_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    return (
        update(queue)
        .where(queue.c.id.in_(due.scalar_subquery()))
        .values(claimed_until=bindparam("until"), claim_token=bindparam("token"))
        .returning(*returning)
    )


def lease_params(claim_seconds: float, limit: int) -> dict:
    now = utcnow()
    return {"now": now, "limit": limit, "token": secrets.token_hex(16),
            "until": now + timedelta(seconds=claim_seconds)}


def held(queue, id_param: str):
    """The row ``:id_param`` while this claim's ``:token`` still holds it."""
    return and_(queue.c.id == bindparam(id_param), queue.c.claim_token == bindparam("token"))
