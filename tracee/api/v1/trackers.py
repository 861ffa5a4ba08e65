"""/trackers/ and /trackers/{id}/: create, list, read."""

from urllib.parse import urlencode

import colander

from tracee.api.errors import api_error
from tracee.api.schemas import (
    StrictString,
    json_body,
    path_id,
    positive_int_node,
    printable,
    querystring,
    slug_node,
    text_node,
)
from tracee.api.v1.representation import tracker_detail, tracker_summary
from tracee.api.v1.services import api_service
from tracee.tracking.reads import read_tracker
from tracee.tracking.records import TrackerRecord
from tracee.tracking.search import search_trackers
from tracee.tracking.workflow import WorkflowError, create_tracker, tracker_for_update

trackers = api_service("trackers", "/trackers")
tracker = api_service("tracker", "/trackers/{id}")


class TrackerCreate(colander.MappingSchema):
    name = text_node(200)
    template = slug_node(missing=None)
    number = positive_int_node(missing=None)


class TrackerQuery(colander.MappingSchema):
    page = colander.SchemaNode(colander.Int(), missing=1, validator=colander.Range(1, 100_000))
    per_page = colander.SchemaNode(colander.Int(), missing=25, validator=colander.Range(1, 100))
    # Both lists given: anything else is refused (alone, false_choices made "maybe" true).
    completed = colander.SchemaNode(
        colander.Boolean(false_choices=("false", "0", "no"), true_choices=("true", "1", "yes")),
        missing=None,
    )
    # printable: a NUL would reach PostgreSQL's LIKE and fail there (a 500).
    q = colander.SchemaNode(
        StrictString(), missing=None, validator=colander.All(colander.Length(max=200), printable)
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
        found = read_tracker(request.db, tracker_id)
    if found is None:
        raise api_error(404, f"no tracker with id {tracker_id}", location="path", name="id")
    return found


@trackers.post(validators=(json_body(TrackerCreate()),))
def create(request):
    data = request.validated
    try:
        created = create_tracker(
            request.db,
            request.context.tenant_id,
            data["name"],
            request.context.actor,
            template=data["template"],
            number=data["number"],
        )
    except WorkflowError as exc:
        raise domain_error(exc) from None
    body = tracker_detail(created, request.urls)
    request.response.status = 201
    request.response.location = body["api_url"]
    return body


@trackers.get(validators=(querystring(TrackerQuery()),))
def list_trackers(request):
    params = request.validated
    page, per_page = params["page"], params["per_page"]
    total, rows = search_trackers(request.db, params["q"], params["completed"], page, per_page)
    request.response.headers["X-Total-Count"] = str(total)
    links = _page_links(request, page, per_page, total)
    if links:
        request.response.headers["Link"] = links
    return [tracker_summary(t, request.urls) for t in rows]


def _page_links(request, page, per_page, total):
    last = max(1, -(-total // per_page))
    pages = {"first": 1, "last": last}
    if page > 1:
        pages["prev"] = min(page - 1, last)
    if page < last:
        pages["next"] = page + 1
    base = request.urls.base + "/api/v1/trackers/"
    links = []
    for rel, number in pages.items():
        query = {**request.GET, "page": str(number), "per_page": str(per_page)}
        links.append(f'<{base}?{urlencode(query)}>; rel="{rel}"')
    return ", ".join(links)


@tracker.get()
def read(request):
    return tracker_detail(load_tracker(request), request.urls)
