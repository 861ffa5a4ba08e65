"""Finding a tenant's trackers: newest first, by name or number, in progress or done.

The API's list and the dashboard's show the same trackers for the same
question; both ask here, and so does the sheet of printed labels.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, or_, select

from tracee.db import utcnow
from tracee.tenancy.scope import require_tenant
from tracee.text import normalise_name
from tracee.tracking.models import NAME_SUFFIX_LENGTH, Tracker, TrackerNameSuffix, TrackingLink

MAX_NUMBER_DIGITS = 10
MAX_INT = 2**31 - 1  # PostgreSQL's integer: a larger literal fails there (a 500)
# The probe of the suffix index reads at most this many rows. A term with more
# is common in the tenant: the newest-first scan finds a page of it sooner.
COMMON_TERM_ROWS = 5000


def _late(now):
    """Late as tracking.estimates says: unfinished, and past the set date or, without
    one, past the active step's due time."""
    return and_(Tracker.completed_at.is_(None), or_(
        Tracker.ready_by < now, and_(Tracker.ready_by.is_(None), Tracker.step_due_at < now)))


def _order_number(text: str) -> int | None:
    digits = text.lstrip("#")
    if digits.isascii() and digits.isdigit() and 0 < len(digits) <= MAX_NUMBER_DIGITS and (
        int(digits) <= MAX_INT
    ):
        return int(digits)
    return None


def _windows(folded: str) -> list[str]:
    """What to look the term up by: itself if short enough; else its first
    NAME_SUFFIX_LENGTH characters, and if those are common, its last ones
    that start a suffix (not at a space: no suffix does)."""
    if len(folded) <= NAME_SUFFIX_LENGTH:
        return [folded]
    last = len(folded) - NAME_SUFFIX_LENGTH
    while folded[last] == " ":  # folded[0] is not a space: the term is stripped
        last -= 1
    return [folded[:NAME_SUFFIX_LENGTH], folded[last:last + NAME_SUFFIX_LENGTH]]


def _after(prefix: str) -> str | None:
    """The first string after every string that begins with ``prefix``, in
    byte order (code point order for UTF-8); None if there is none."""
    while prefix:
        following = ord(prefix[-1]) + 1
        if following == 0xD800:  # surrogates are not text
            following = 0xE000
        if following <= 0x10FFFF:
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


def _term_condition(session, text: str):
    """``text`` in the lowered name (a substring, wildcards literal) or as the number.

    On PostgreSQL a term found in few suffix rows is looked up there (an index
    row-level security lets the planner use, see migration 0012), and the
    trackers it names are then read by key; the answer is the same as the scan's.
    """
    folded = text.lower()
    in_name = func.lower(Tracker.name).contains(folded, autoescape=True)
    number = _order_number(text)
    by_number = [] if number is None else [Tracker.number == number]
    if session.get_bind().dialect.name != "postgresql":
        return or_(in_name, *by_number)
    suffixes = TrackerNameSuffix.__table__.c  # Core: the tenant is in the condition
    for window in _windows(folded):
        # The range spelled out: from a parameter (a prepared statement's
        # generic plan) PostgreSQL cannot derive it, and scanned the tenant.
        after = _after(window)
        named = session.connection().scalars(
            select(suffixes.tracker_id).where(
                suffixes.tenant_id == require_tenant(session),
                suffixes.suffix >= window,
                *([] if after is None else [suffixes.suffix < after]),
                func.starts_with(suffixes.suffix, window),
            ).limit(COMMON_TERM_ROWS)
        ).all()
        if len(named) < COMMON_TERM_ROWS:
            break
    else:
        return or_(in_name, *by_number)
    # The ids themselves, not a subquery: the planner's guess for a range of
    # suffixes is poor, and with a subquery it chose to walk the whole tenant
    # newest first, probing the index for each tracker.
    # Written into the statement (integers only): each search is then planned
    # for its own ids, never by a prepared statement's generic plan, which
    # filtered the whole tenant by "= ANY($1)" instead of looking the ids up.
    found = Tracker.id.in_(bindparam("named", sorted(set(named)), expanding=True,
                                     literal_execute=True, unique=True))
    if len(folded) > NAME_SUFFIX_LENGTH:  # only some of its characters were looked up
        found = and_(found, in_name)
    return or_(found, *by_number)


def _matching(session, query, q: str | None, completed: bool | None,
              late: bool | None = None):
    if completed is not None:
        done = Tracker.completed_at.is_not(None)
        query = query.where(done if completed else ~done)
    if late is not None:
        # NULL due dates make the comparison unknown, not false: coalesce for "not late".
        late_now = _late(utcnow())
        query = query.where(late_now if late else ~func.coalesce(late_now, False))
    text = normalise_name(q) if q else ""  # names are stored in this spelling
    if text:
        query = query.where(_term_condition(session, text))
    return query


def _newest_first(query):
    return query.order_by(Tracker.created_at.desc(), Tracker.id.desc())


def search_trackers(session, q: str | None = None, completed: bool | None = None,
                    page: int = 1, per_page: int = 25,
                    late: bool | None = None) -> tuple[int, list[Tracker]]:
    """(how many match, the trackers of ``page``) in the bound tenant."""
    query = _matching(session, select(Tracker), q, completed, late)
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
    if ids is None:
        query = _matching(session, query, q, completed, late)
    else:
        query = query.where(Tracker.id.in_(ids))
    return [Label(*row) for row in session.execute(_newest_first(query).limit(limit))]
