"""The tracking page's content as JSON, for the page's own script to poll.

``/track/<token>/progress.json`` (and the same under ``/embed/<token>/``)
carries exactly what the page shows: visible steps only, nothing internal.
Every visible change raises the tracker's ``event_seq`` (its audit trail), so
the sequence is the ETag; a poll that finds nothing new is answered 304
after the traversal's read, without building the body.
"""

from pyramid.view import view_config

from tracee.api.v1.representation import iso
from tracee.messages.models import QUESTION
from tracee.messages.service import thread
from tracee.progress_front import ANY_TOKEN
from tracee.response import Response
from tracee.tenancy.resources import TrackerResource
from tracee.views.tracking import PAGE_CACHE_CONTROL, _public_view, progress_etag


def _estimate(view: dict) -> dict:
    promised = view["estimate"]
    return {
        "late": promised.late,
        "ready_at": iso(promised.ready_at),
        "ready_display": view["display_time"](promised.ready_at),
        "late_after": iso(promised.late_after),
    }


def progress_body(view: dict) -> dict:
    """Every text in it is in the page's language; times also come as UTC
    instants, which the script shows in the reader's own zone."""
    display = view["display_time"]
    return {
        "headline": view["headline"],
        "is_completed": view["is_completed"],
        "done": view["done"],
        "total": view["total"],
        "estimate": _estimate(view),
        "progress_text": view["progress_text"],
        "updated_at": iso(view["updated_at"]),
        "updated_display": display(view["updated_at"]),
        "steps": [
            {
                # What the page shows: the theme's name for the step and its status text.
                "name": step.label,
                "description": step.description,
                "status": step.status,
                "label": step.status_label,
                "started_at": iso(step.started_at),
                "started_display": display(step.started_at),
                "completed_at": iso(step.completed_at),
                "completed_display": display(step.completed_at),
            }
            for step in view["steps"]
        ],
    }


def public_messages(session, tracker_id: int, display) -> list[dict]:
    """The conversation as the page shows it: no addresses, no staff names;
    ``display`` writes times as the page does (the view's ``display_time``)."""
    return [{"id": m.id, "kind": m.kind, "name": m.name if m.kind == QUESTION else None,
             "text": m.text, "created_at": iso(m.created_at),
             "created_display": display(m.created_at)}
            for m in thread(session, tracker_id)]


@view_config(context=TrackerResource, name="progress.json", request_method="GET")
def progress_json(context, request):
    etag = progress_etag(context.tracker.event_seq)
    # The front may answer this host's later polls of any token (tracee.progress_front).
    request.environ[ANY_TOKEN] = request.root.tenant is None
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        view = _public_view(context, request)
        body = progress_body(view)
        if context.tracker.message_count:  # one query, only for a page with a conversation
            body["messages"] = public_messages(request.db, context.tracker.id,
                                               view["display_time"])
        response = Response(json_body=body)
    response.etag = etag
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    response.vary = ("Accept-Language",)  # without ?lang=, its language may follow it
    return response
