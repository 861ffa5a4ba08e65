"""Finding a tenant's trackers: newest first, by name or number, in progress or done.

The API's list and the dashboard's show the same trackers for the same
question; both ask here.
"""

from sqlalchemy import func, or_, select

from tracee.text import normalise_name
from tracee.tracking.models import Tracker

MAX_NUMBER_DIGITS = 10
MAX_INT = 2**31 - 1  # PostgreSQL's integer: a larger literal fails there (a 500)


def search_trackers(session, q: str | None = None, completed: bool | None = None,
                    page: int = 1, per_page: int = 25) -> tuple[int, list[Tracker]]:
    """(how many match, the trackers of ``page``) in the bound tenant."""
    query = select(Tracker)
    if completed is not None:
        done = Tracker.completed_at.is_not(None)
        query = query.where(done if completed else ~done)
    text = normalise_name(q) if q else ""  # names are stored in this spelling
    if text:
        conditions = [func.lower(Tracker.name).contains(text.lower(), autoescape=True)]
        digits = text.lstrip("#")
        if digits.isascii() and digits.isdigit() and 0 < len(digits) <= MAX_NUMBER_DIGITS and (
            int(digits) <= MAX_INT
        ):
            conditions.append(Tracker.number == int(digits))
        query = query.where(or_(*conditions))
    # Counted on Tracker itself, scoped exactly like the rows (a count over a
    # subquery once escaped the tenant criteria and counted every tenant's trackers).
    total = session.scalar(query.with_only_columns(func.count(Tracker.id)))
    rows = session.scalars(
        query.order_by(Tracker.created_at.desc(), Tracker.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return total, list(rows)
