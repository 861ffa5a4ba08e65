"""Finding a tenant's trackers: newest first, by name or number, in progress or done.

The API's list and the dashboard's show the same trackers for the same
question; both ask here, and so does the sheet of printed labels.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select

from tracee.db import utcnow
from tracee.tenancy.scope import require_tenant
from tracee.text import normalise_name
from tracee.tracking.models import Tracker, TrackingLink

MAX_NUMBER_DIGITS = 10
MAX_INT = 2**31 - 1  # PostgreSQL's integer: a larger literal fails there (a 500)


def _late(now):
    """Late as tracking.estimates says: unfinished, and past the set date or, without
    one, past the active step's due time."""
    return and_(Tracker.completed_at.is_(None), or_(
        Tracker.ready_by < now, and_(Tracker.ready_by.is_(None), Tracker.step_due_at < now)))


def _matching(query, q: str | None, completed: bool | None, late: bool | None = None):
    if completed is not None:
        done = Tracker.completed_at.is_not(None)
        query = query.where(done if completed else ~done)
    if late is not None:
        # NULL due dates make the comparison unknown, not false: coalesce for "not late".
        late_now = _late(utcnow())
        query = query.where(late_now if late else ~func.coalesce(late_now, False))
    text = normalise_name(q) if q else ""  # names are stored in this spelling
    if text:
        conditions = [func.lower(Tracker.name).contains(text.lower(), autoescape=True)]
        digits = text.lstrip("#")
        if digits.isascii() and digits.isdigit() and 0 < len(digits) <= MAX_NUMBER_DIGITS and (
            int(digits) <= MAX_INT
        ):
            conditions.append(Tracker.number == int(digits))
        query = query.where(or_(*conditions))
    return query


def _newest_first(query):
    return query.order_by(Tracker.created_at.desc(), Tracker.id.desc())


def search_trackers(session, q: str | None = None, completed: bool | None = None,
                    page: int = 1, per_page: int = 25,
                    late: bool | None = None) -> tuple[int, list[Tracker]]:
    """(how many match, the trackers of ``page``) in the bound tenant."""
    query = _matching(select(Tracker), q, completed, late)
    # Counted on Tracker itself, scoped exactly like the rows (a count over a
    # subquery once escaped the tenant criteria and counted every tenant's trackers).
    total = session.scalar(query.with_only_columns(func.count(Tracker.id)))
    rows = session.scalars(
        _newest_first(query).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return total, list(rows)


@dataclass(frozen=True)
class Label:
    """What a printed label shows: the name, the number, and the link as a QR code."""

    id: int
    number: int
    name: str
    token: uuid.UUID


def label_rows(session, *, ids: list[int] | None = None, q: str | None = None,
               completed: bool | None = None, late: bool | None = None,
               limit: int = 1000) -> list[Label]:
    """The chosen trackers (``ids``), or those matching the list's filter, newest first.

    Plain columns in one query: no steps, no ORM objects, for a sheet of hundreds.
    """
    tenant_id = require_tenant(session)
    query = select(Tracker.id, Tracker.number, Tracker.name, TrackingLink.token).join(
        TrackingLink,
        and_(TrackingLink.tenant_id == Tracker.tenant_id, TrackingLink.tracker_id == Tracker.id),
    ).where(Tracker.tenant_id == tenant_id)
    query = _matching(query, q, completed, late) if ids is None else query.where(
        Tracker.id.in_(ids))
    return [Label(*row) for row in session.execute(_newest_first(query).limit(limit))]
