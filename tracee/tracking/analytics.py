"""How a tenant's work has gone: time per step and trackers per day, over a window.

What the dashboard's analytics page draws and its CSV files hold. Both
questions are asked of the bound tenant's rows only (the session's scope and
row-level security, as everywhere, and named in SQL besides, as for the
label sheet). Day buckets are UTC days.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import Tracker, TrackerStep

WINDOW_DAYS = 30
# Step durations are summarised in Python (SQLite has no percentiles); a
# window this large is read in a few hundred milliseconds at most.
MAX_DURATIONS = 200_000


@dataclass(frozen=True)
class StepTimes:
    name: str
    count: int
    median_minutes: float
    p90_minutes: float


@dataclass(frozen=True)
class Day:
    day: date
    started: int
    completed: int


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (what spreadsheets call PERCENTILE.INC)."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def step_times(session, now: datetime, days: int = WINDOW_DAYS) -> list[StepTimes]:
    """Median and 90th percentile of each step's time, for steps completed in the window.

    Steps are grouped by name, whichever template they came from: a step
    called "Packaging" is the same work in every workflow of one shop.
    """
    since = now - timedelta(days=days)
    rows = session.execute(
        select(TrackerStep.name, TrackerStep.started_at, TrackerStep.completed_at)
        .where(TrackerStep.tenant_id == require_tenant(session),
               TrackerStep.completed_at >= since, TrackerStep.started_at.is_not(None))
        .limit(MAX_DURATIONS)
    )
    durations: dict[str, list[float]] = defaultdict(list)
    order: dict[str, int] = {}
    for name, started, completed in rows:
        durations[name].append((completed - started).total_seconds() / 60)
        order.setdefault(name, len(order))
    result = []
    for name in sorted(durations, key=order.get):
        values = sorted(durations[name])
        result.append(StepTimes(name, len(values), percentile(values, 0.5),
                                percentile(values, 0.9)))
    return result


def per_day(session, now: datetime, days: int = WINDOW_DAYS) -> list[Day]:
    """Trackers created and completed on each of the last ``days`` UTC days, oldest first."""
    first = (now - timedelta(days=days - 1)).date()
    since = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    counts = {"started": defaultdict(int), "completed": defaultdict(int)}
    for kind, column in (("started", Tracker.created_at), ("completed", Tracker.completed_at)):
        day = _utc_day(session, column)
        for bucket, count in session.execute(
            select(day, func.count())
            .where(Tracker.tenant_id == require_tenant(session), column >= since).group_by(day)
        ):
            counts[kind][_as_date(bucket)] += count
    return [
        Day(d, counts["started"][d], counts["completed"][d])
        for d in (first + timedelta(days=i) for i in range(days))
    ]


def _utc_day(session, column):
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps the UTC time as text: its date part


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
