"""Trackers in the dashboard: the list, a tracker's page, and moving it on.

Starting and completing steps calls the same domain functions as the API
(tracee.tracking.workflow), with the person's email as the actor.
"""

from datetime import UTC, datetime
from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config
from sqlalchemy import select

from tracee.accounts.permissions import EDIT_TRACKERS, VIEW
from tracee.api.keys import tenant_keys
from tracee.customer_mail.subscriptions import list_subscriptions
from tracee.db import utcnow
from tracee.text import is_printable
from tracee.tracking.estimates import estimate
from tracee.tracking.models import TrackerEvent
from tracee.tracking.search import search_trackers
from tracee.tracking.workflow import (
    ACTIONS,
    Actor,
    WorkflowError,
    apply_action,
    set_ready_by,
    tracker_for_update,
)
from tracee.views.dashboard.conversation import conversation
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import TrackerNode, TrackersSection, dashboard_path

PER_PAGE = 25
# The list's "Show" choices, as search_trackers' filters.
FILTERS = {"all": {}, "in_progress": {"completed": False}, "completed": {"completed": True},
           "late": {"late": True}}
EVENT_LABELS = {
    "tracker.created": "Created", "tracker.completed": "Completed the order",
    "step.started": "Started", "step.completed": "Completed",
    "step.reopened": "Re-opened", "step.reset": "Reset",
    "tracker.estimate_set": "Changed the ready date",
    "tracker.message_received": "Question from the customer", "message.replied": "Replied",
}
ACTOR_MAX = 100  # tracker_events.actor


def person(login) -> Actor:
    email = login.user.email
    return Actor(email if len(email) <= ACTOR_MAX else f"user:{login.user.id}")


def actor_names(session, tenant_id: int) -> dict:
    """How the audit trail's ``key:<id>`` actors are shown: by the key's name."""
    return {f"key:{k.id}": f"API key “{k.name}”" for k in tenant_keys(session, tenant_id)}


def list_filter(request) -> tuple[str, str]:
    """The list's search term and status filter; what is not one is ignored."""
    q = request.GET.get("q", "")[:200]
    status = request.GET.get("status", "all")
    return (q if is_printable(q) else ""), (status if status in FILTERS else "all")


@view_config(route_name="dashboard", context=TrackersSection, permission=VIEW,
             renderer=TEMPLATES + "trackers.jinja2")
def trackers(context, request):
    q, status = list_filter(request)
    try:
        page_number = max(1, min(int(request.GET.get("page", "1")), 100_000))
    except ValueError:
        page_number = 1
    total, found = search_trackers(request.db, q, page=page_number, per_page=PER_PAGE,
                                   **FILTERS[status])
    last = max(1, -(-total // PER_PAGE))

    def page_link(number):
        return "?" + urlencode({"q": q, "status": status, "page": number})

    now = utcnow()
    return page(context, request, "trackers", trackers=found, total=total, q=q,
                estimates={t.id: estimate(t, now) for t in found},
                can_edit=request.has_permission(EDIT_TRACKERS, context),
                labels_link="labels?" + urlencode({"q": q, "status": status}),
                status=status, page_number=page_number,
                previous=page_link(page_number - 1) if page_number > 1 else None,
                next=page_link(page_number + 1) if page_number < last else None)


def _history(request, context: TrackerNode) -> list[dict]:
    events = request.db.scalars(
        select(TrackerEvent).where(TrackerEvent.tracker_id == context.tracker.id)
        .order_by(TrackerEvent.seq)
    )
    keys = actor_names(request.db, context.tenant.id)
    return [{
        "what": EVENT_LABELS.get(e.type, e.type), "process": e.process, "at": e.created_at,
        "who": keys.get(e.actor, e.actor),
    } for e in events]


@view_config(route_name="dashboard", context=TrackerNode, permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "tracker.jinja2")
def tracker_page(context, request, error=None, ready_error=None, ready_value=None):
    tracker = context.tracker
    return page(
        context, request, "trackers", tracker=tracker, history=_history(request, context),
        estimate=estimate(tracker, utcnow()), ready_error=ready_error,
        ready_value=ready_value if ready_value is not None else _local_input(tracker.ready_by),
        ready_url=dashboard_path(request, context.tenant.slug, "trackers",
                                 str(tracker.id), "ready-date"),
        tracking_url=request.urls.tracking(tracker.tracking_token),
        embed_code=request.urls.embed_code(tracker.tracking_token),
        can_edit=request.has_permission(EDIT_TRACKERS, context), error=error,
        subscribers=list_subscriptions(request.db, tracker.id),
        action_url=dashboard_path(request, context.tenant.slug, "trackers",
                                  str(tracker.id), "status"),
        conversation=getattr(request, "conversation", None) or conversation(request, context),
    )


@view_config(route_name="dashboard", context=TrackerNode, name="status",
             permission=EDIT_TRACKERS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "tracker.jinja2")
def change_status(context, request):
    process, action = request.POST.get("process", ""), request.POST.get("action", "")
    # Locked, like the API's status change, so concurrent changes queue up.
    tracker = tracker_for_update(request.db, context.tracker.id)
    error = None
    if action not in ACTIONS or not process or len(process) > 200 or not is_printable(process):
        error = "Choose a step and whether to start or complete it."
    else:
        try:
            apply_action(request.db, tracker, process, action, person(request.login))
        except WorkflowError as exc:
            error = str(exc)
    if error is not None:
        request.response.status = 400
        return tracker_page(context, request, error=error)
    return HTTPFound(dashboard_path(request, context.tenant.slug, "trackers", str(tracker.id)))


# --- the ready date promised to the customer ---------------------------------------
# A datetime-local field has no zone: it is read and shown in UTC, and the page
# says so (the dashboard has no per-person time zone yet).
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def _local_input(moment) -> str:
    return moment.astimezone(UTC).strftime(LOCAL_INPUT) if moment else ""


@view_config(route_name="dashboard", context=TrackerNode, name="ready-date",
             permission=EDIT_TRACKERS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "tracker.jinja2")
def change_ready_date(context, request):
    typed = request.POST.get("ready_by", "")[:40].strip()
    clear = bool(request.POST.get("clear"))
    ready_by = None
    if typed and not clear:
        try:
            ready_by = datetime.strptime(typed, LOCAL_INPUT).replace(tzinfo=UTC)
        except ValueError:
            request.response.status = 400
            return tracker_page(context, request, ready_value=typed,
                                ready_error="Enter a date and time such as 2026-03-01T17:00.")
    tracker = tracker_for_update(request.db, context.tracker.id)
    set_ready_by(request.db, tracker, ready_by, person(request.login))
    return HTTPFound(dashboard_path(request, context.tenant.slug, "trackers", str(tracker.id)))
