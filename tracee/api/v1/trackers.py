"""/trackers/ and /trackers/{id}/: create, list, read."""

import colander
from sqlalchemy import func, or_, select

from tracee.api.errors import api_error
from tracee.api.pagination import PageQuery, paginate
from tracee.api.schemas import (
    MAX_INT,
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
from tracee.tracking.models import Tracker
from tracee.tracking.reads import read_tracker
from tracee.tracking.records import TrackerRecord
from tracee.tracking.workflow import WorkflowError, create_tracker, tracker_for_update

trackers = api_service("trackers", "/trackers")
tracker = api_service("tracker", "/trackers/{id}")


class TrackerCreate(colander.MappingSchema):
    name = text_node(200)
    template = slug_node(missing=None)
    number = positive_int_node(missing=None)


class TrackerQuery(PageQuery):
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
    query = select(Tracker)
    if params["completed"] is not None:
        done = Tracker.completed_at.is_not(None)
        query = query.where(done if params["completed"] else ~done)
    if params["q"]:
        text = params["q"].strip()
        conditions = [func.lower(Tracker.name).contains(text.lower(), autoescape=True)]
        digits = text.lstrip("#")
        # Bounded: a larger literal is out of range for PostgreSQL's integer (a 500).
        if digits.isascii() and digits.isdigit() and 0 < len(digits) <= 10 and (
            int(digits) <= MAX_INT
        ):
            conditions.append(Tracker.number == int(digits))
        query = query.where(or_(*conditions))
    # Counted on Tracker itself, scoped exactly like the rows (a count over a
    # subquery once escaped the tenant criteria and counted every tenant's trackers).
    total = request.db.scalar(query.with_only_columns(func.count(Tracker.id)))
    page, per_page = params["page"], params["per_page"]
    rows = request.db.scalars(
        query.order_by(Tracker.created_at.desc(), Tracker.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    paginate(request, "/api/v1/trackers/", page, per_page, total)
    return [tracker_summary(t, request.urls) for t in rows]


@tracker.get()
def read(request):
    return tracker_detail(load_tracker(request), request.urls)
