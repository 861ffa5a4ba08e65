"""Trackers -> New tracker: the form, and the same create_tracker as the API."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_TRACKERS
from tracee.tracking.templates import list_templates
from tracee.tracking.workflow import MAX_NUMBER, WorkflowError, create_tracker
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import TrackersSection, dashboard_path
from tracee.views.dashboard.trackers import person

NO_TEMPLATE = ""  # the option for steps named as they are reported
FORM = TEMPLATES + "tracker_new.jinja2"


def _form(context, request, values: dict, errors: dict) -> dict:
    return page(context, request, "trackers", values=values, errors=errors,
                templates=list_templates(request.db), NO_TEMPLATE=NO_TEMPLATE)


def _number(text: str) -> int | None:
    """The optional order number; ValueError with a reason if it is not one."""
    text = text.strip().lstrip("#")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not (
        0 < int(text) <= MAX_NUMBER
    ):
        raise ValueError(f"Number must be a whole number from 1 to {MAX_NUMBER}, or empty.")
    return int(text)


@view_config(route_name="dashboard", context=TrackersSection, name="new",
             permission=EDIT_TRACKERS, request_method="GET", renderer=FORM)
def new_tracker_form(context, request):
    return _form(context, request, {"name": "", "template": "3d-printing", "number": ""}, {})


@view_config(route_name="dashboard", context=TrackersSection, name="new",
             permission=EDIT_TRACKERS, request_method="POST", require_csrf=True,
             renderer=FORM)
def new_tracker(context, request):
    values = {k: request.POST.get(k, "")[:1000] for k in ("name", "template", "number")}
    errors = {}
    try:
        number = _number(values["number"])
    except ValueError as exc:
        errors["number"], number = str(exc), None
    if not errors:
        try:
            tracker = create_tracker(
                request.db, context.tenant.id, values["name"], person(request.login),
                template=values["template"] or None, number=number)
        except WorkflowError as exc:
            # The domain's message starts with the field's name, as the API's does.
            errors[exc.field or "form"] = str(exc)[0].upper() + str(exc)[1:] + "."
    if errors:
        request.response.status = 400
        return _form(context, request, values, errors)
    return HTTPFound(dashboard_path(request, context.tenant.slug, "trackers", str(tracker.id)))
