"""/trackers/ and /trackers/{id}/: create, list, read, and set a ready date."""

import colander

from tracee.api.errors import api_error
from tracee.api.json_renderer import json_answer
from tracee.api.openapi import operation
from tracee.api.pagination import PageQuery, paginate
from tracee.api.schemas import (
    QueryBoolean,
    StrictBoolean,
    StrictDateTime,
    StrictString,
    as_name,
    json_body,
    json_merge_body,
    path_id,
    positive_int_node,
    printable,
    querystring,
    slug_node,
    text_node,
)
from tracee.api.v1.representation import tracker_detail, tracker_summary
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import (
    CREATE_TRACKER_EXAMPLE,
    CREATED_EXAMPLE,
    LIST_EXAMPLE,
    TRACKER_EXAMPLE,
    ref,
)
from tracee.customer_mail.models import MAX_ADDRESS
from tracee.customer_mail.subscriptions import (
    ADDRESS_RE,
    LANGUAGE_PATTERN,
    clean_language,
    subscribe,
)
from tracee.tracking.reads import read_tracker
from tracee.tracking.records import TrackerRecord
from tracee.tracking.search import search_trackers
from tracee.tracking.workflow import (
    WorkflowError,
    create_tracker,
    set_ready_by,
    tracker_for_update,
)

trackers = api_service("trackers", "/trackers")
tracker = api_service("tracker", "/trackers/{id}")


def _ready_date_node():
    return colander.SchemaNode(
        StrictDateTime(), missing=None,
        description="a ready date the business promises, shown to the customer in place of "
                    "the estimate from expected durations; null clears it")


class TrackerCreate(colander.MappingSchema):
    name = text_node(200)
    template = slug_node(missing=None)
    number = positive_int_node(missing=None)
    estimated_ready_at = _ready_date_node()
    notify_email = colander.SchemaNode(
        StrictString(), missing=None,
        validator=colander.All(
            colander.Length(max=MAX_ADDRESS, max_err=f"must be at most {MAX_ADDRESS} characters"),
            colander.Regex(ADDRESS_RE, "must be an email address like name@example.com"),
        ),
        description="the customer's address for email updates on this order",
    )
    notify_email_confirmed = colander.SchemaNode(
        StrictBoolean(), missing=False,
        description="true: the shop has confirmed the address, so no confirmation mail is "
                    "sent; otherwise the customer confirms from a mail first",
    )
    notify_language = colander.SchemaNode(
        StrictString(), missing=None,
        validator=colander.Regex(LANGUAGE_PATTERN, "must be a language tag such as en or de-CH"),
        description="the language of the update mails (default en)",
    )


class TrackerUpdate(colander.MappingSchema):
    estimated_ready_at = _ready_date_node()


class TrackerQuery(PageQuery):
    completed = colander.SchemaNode(QueryBoolean(), missing=None)
    late = colander.SchemaNode(QueryBoolean(), missing=None,
                               description="unfinished and running late (see is_late)")
    # printable: a NUL would reach PostgreSQL's LIKE and fail there (a 500).
    # as_name: searched in the spelling names are stored in.
    q = colander.SchemaNode(
        StrictString(), missing=None, preparer=as_name,
        validator=colander.All(colander.Length(max=200), printable),
    )


def domain_error(exc: WorkflowError):
    status = 409 if exc.field == "number" else 400
    return api_error(status, str(exc), name=exc.field)


def load_tracker(request, lock: bool = False) -> TrackerRecord:
    """The tenant's tracker named in the path; another tenant's is simply not found.

    With ``lock``, held until commit so concurrent changes apply one after
    the other.
    """
    tracker_id = path_id(request)
    if lock:
        found = tracker_for_update(request.db, tracker_id)
    else:
        found = read_tracker(request.reads, tracker_id)
    if found is None:
        raise api_error(404, f"no tracker with id {tracker_id}", location="path", name="id")
    return found


@trackers.post(validators=(json_body(TrackerCreate()),))
@operation(201, ref("Tracker"), "Create a tracker", headers=("Location",),
           others={400: "no template has that slug", 409: "the number is already used"},
           request_example=CREATE_TRACKER_EXAMPLE, example=CREATED_EXAMPLE)
def create(request):
    """A tracker for one customer order, with the steps of ``template`` if given. Without
    ``number``, the order number is the ``#N`` in the name when free, else the next one.
    With ``notify_email``, that address gets email updates on the order: after it confirms
    from a mail, or at once if ``notify_email_confirmed`` is true."""
    data = request.validated
    try:
        created = create_tracker(
            request.db,
            request.context.tenant_id,
            data["name"],
            request.context.actor,
            template=data["template"],
            number=data["number"],
            ready_by=data["estimated_ready_at"],
        )
    except WorkflowError as exc:
        raise domain_error(exc) from None
    if data["notify_email"]:
        subscribe(request.db, created, data["notify_email"].lower(),
                  clean_language(data["notify_language"]), "api",
                  confirmed=data["notify_email_confirmed"])
    body = tracker_detail(created, request.urls)
    request.response.status = 201
    request.response.location = body["api_url"]
    return body


@trackers.get(validators=(querystring(TrackerQuery()),))
@operation(200, {"type": "array", "items": ref("TrackerSummary")}, "List trackers",
           headers=("X-Total-Count", "Link"), example=LIST_EXAMPLE)
def list_trackers(request):
    """Newest first, a page at a time; ``q`` matches the name or the order number."""
    params = request.validated
    page, per_page = params["page"], params["per_page"]
    total, rows = search_trackers(request.db, params["q"], params["completed"], page, per_page,
                                  late=params["late"])
    filters = {}
    for flag in ("completed", "late"):
        if params[flag] is not None:
            filters[flag] = "true" if params[flag] else "false"
    if params["q"]:
        filters["q"] = params["q"]
    paginate(request, "/api/v1/trackers/", params, total, filters)
    return [tracker_summary(t, request.urls) for t in rows]


@tracker.get()
@operation(200, ref("Tracker"), "Get a tracker", example=TRACKER_EXAMPLE)
def read(request):
    """The tracker with its ``history`` (the steps started, in order) and every step."""
    return json_answer(request, tracker_detail(load_tracker(request), request.urls))


@tracker.patch(validators=(json_merge_body(TrackerUpdate()),))
@operation(200, ref("Tracker"), "Update a tracker", example=TRACKER_EXAMPLE)
def update(request):
    """Set the ready date promised to the customer (``estimated_ready_at``), or clear it
    with ``null`` to show the estimate from the steps' expected durations again."""
    found = load_tracker(request, lock=True)
    if "estimated_ready_at" in request.validated:
        set_ready_by(request.db, found, request.validated["estimated_ready_at"],
                     request.context.actor)
    return tracker_detail(found, request.urls)
