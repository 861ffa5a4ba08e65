"""The analytics page: time per step and trackers per day, drawn and as CSV.

The charts are SVG drawn on the server (no script, no chart library): the
geometry is computed here, the template only places it. Each chart has the
same figures as a table beside it, for screen readers and for copying.
"""

import csv
import io

from pyramid.response import Response
from pyramid.view import view_config

from tracee.accounts.permissions import VIEW
from tracee.db import utcnow
from tracee.tracking.analytics import WINDOW_DAYS, per_day, step_times
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import AnalyticsSection

DAY_CHART = {"width": 720, "height": 220, "left": 36, "bottom": 28, "top": 10}
STEP_ROW = 30  # pixels per step in the step chart
STEP_LABEL = 170  # pixels left of the bars for the step's name


def duration(minutes: float) -> str:
    """45 min, 3.5 h, 2.1 d: the unit a person would say."""
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _day_chart(days) -> dict:
    c = DAY_CHART
    plot_w, plot_h = c["width"] - c["left"] - 4, c["height"] - c["top"] - c["bottom"]
    top = max([1] + [max(d.started, d.completed) for d in days])
    slot = plot_w / len(days)
    bar = max(1.0, slot * 0.38)
    base = c["top"] + plot_h

    def height(count):
        return plot_h * count / top

    bars, labels = [], []
    for i, d in enumerate(days):
        x = c["left"] + i * slot + slot * 0.1
        for kind, count, dx in (("started", d.started, 0), ("completed", d.completed, bar)):
            h = height(count)
            bars.append({"kind": kind, "x": round(x + dx, 1), "y": round(base - h, 1),
                         "w": round(bar, 1), "h": round(h, 1),
                         "title": f"{d.day:%d %b}: {count} {kind}"})
        if i % 5 == 0 or i == len(days) - 1:
            labels.append({"x": round(x + bar, 1), "text": f"{d.day:%d %b}"})
    ticks = [{"y": round(base - height(v), 1), "text": str(v)} for v in sorted({0, top // 2, top})]
    return {**c, "bars": bars, "labels": labels, "ticks": ticks, "base": base,
            "axis_y": c["top"]}


def _step_chart(steps) -> dict:
    width = DAY_CHART["width"]
    longest = max([1.0] + [s.p90_minutes for s in steps])
    room = width - STEP_LABEL - 80
    rows = []
    for i, s in enumerate(steps):
        y = 8 + i * STEP_ROW
        rows.append({
            "name": s.name, "y": y, "text_y": y + 14,
            "p90_w": round(max(1.0, room * s.p90_minutes / longest), 1),
            "median_w": round(max(1.0, room * s.median_minutes / longest), 1),
            "value": f"{duration(s.median_minutes)} / {duration(s.p90_minutes)}",
        })
    return {"width": width, "height": 16 + STEP_ROW * len(steps), "label_w": STEP_LABEL,
            "rows": rows}


@view_config(route_name="dashboard", context=AnalyticsSection, permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "analytics.jinja2")
def analytics(context, request):
    now = utcnow()
    days, steps = per_day(request.db, now), step_times(request.db, now)
    return page(context, request, "analytics", days=days, steps=steps, window=WINDOW_DAYS,
                day_chart=_day_chart(days), step_chart=_step_chart(steps), duration=duration,
                totals={"started": sum(d.started for d in days),
                        "completed": sum(d.completed for d in days)})


def _cell(value):
    """A spreadsheet must not read the shop's text as a formula (CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(request, filename: str, header: list[str], rows) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    response = Response(out.getvalue(), content_type="text/csv", charset="utf-8")
    response.content_disposition = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@view_config(route_name="dashboard", context=AnalyticsSection, name="steps.csv",
             permission=VIEW, request_method="GET")
def steps_csv(context, request):
    rows = [(s.name, s.count, round(s.median_minutes, 1), round(s.p90_minutes, 1))
            for s in step_times(request.db, utcnow())]
    return _csv(request, f"{context.tenant.slug}-step-times.csv",
                ["step", "completed", "median_minutes", "p90_minutes"], rows)


@view_config(route_name="dashboard", context=AnalyticsSection, name="days.csv",
             permission=VIEW, request_method="GET")
def days_csv(context, request):
    rows = [(d.day.isoformat(), d.started, d.completed) for d in per_day(request.db, utcnow())]
    return _csv(request, f"{context.tenant.slug}-trackers-per-day.csv",
                ["day", "started", "completed"], rows)
