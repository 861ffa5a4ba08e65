"""Settings -> Webhooks: endpoints, their secrets (shown once), test events and delivery log.

The same rules and service functions as /api/v1/webhooks/: the fields are
checked by tracee.webhooks.input, the target by tracee.webhooks.ssrf, and
every change is made by tracee.webhooks.endpoints.
"""

import colander
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config

from tracee.accounts.permissions import MANAGE_KEYS
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import (
    WebhookResource,
    WebhooksSection,
    as_id,
    dashboard_path,
)
from tracee.webhooks import endpoints as service
from tracee.webhooks.input import MAX_DESCRIPTION, MAX_URL, WebhookCreate, WebhookUpdate
from tracee.webhooks.models import TRACKER_EVENTS
from tracee.webhooks.ssrf import TargetRefused, check_url

LIST, FORM = TEMPLATES + "webhooks.jinja2", TEMPLATES + "webhook.jinja2"
PER_PAGE = 25
LABELS = {"url": "The URL", "events": "Events", "description": "The description"}


class FormInvalid(Exception):
    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


def _submitted(request) -> dict:
    # Over-long input is refused by the rules, not cut here; only what is shown back is capped.
    return {"url": request.POST.get("url", ""), "events": request.POST.getall("events"),
            "description": request.POST.get("description", "")}


def _checked(request, schema: colander.MappingSchema, submitted: dict) -> dict:
    """The form's fields under the API's rules (FormInvalid names each bad field)."""
    try:
        data = schema.deserialize(submitted)
    except colander.Invalid as exc:
        errors = {}
        for name, message in exc.asdict().items():
            field = name.split(".")[0]
            errors.setdefault(field, f"{LABELS.get(field, field)} {message}.")
        raise FormInvalid(errors) from None
    try:
        check_url(data["url"], request.registry["webhooks.settings"])
    except TargetRefused as exc:
        raise FormInvalid({"url": f"The URL {exc}."}) from None
    return data


def _shown_back(submitted: dict) -> dict:
    return {"url": submitted["url"][:MAX_URL + 1],
            "events": [e for e in submitted["events"] if e in TRACKER_EVENTS],
            "description": submitted["description"][:MAX_DESCRIPTION + 1]}


def _list_page(context, request, **values):
    return page(context, request, "webhooks", endpoints=service.list_endpoints(request.db),
                last=service.last_attempts(request.db), notice=request.GET.get("done"),
                **values)


def _form_page(context, request, endpoint=None, values=None, errors=None, status=200, **more):
    request.response.status = status
    if values is None:
        values = ({"url": endpoint.url, "events": endpoint.event_list,
                   "description": endpoint.description, "enabled": endpoint.enabled}
                  if endpoint else {"url": "", "events": list(TRACKER_EVENTS),
                                    "description": ""})
    return page(context, request, "webhooks", endpoint=endpoint, values=values,
                errors=errors or {}, events=TRACKER_EVENTS, max_url=MAX_URL,
                max_description=MAX_DESCRIPTION, **more)


def _section_path(request, context) -> str:
    return dashboard_path(request, context.tenant.slug, "settings", "webhooks")


def _endpoint_path(request, context: WebhookResource, view: str = "") -> str:
    return f"{_section_path(request, context)}{context.endpoint.id}/{view}"


@view_config(route_name="dashboard", context=WebhooksSection, permission=MANAGE_KEYS,
             request_method="GET", renderer=LIST)
def list_endpoints(context, request):
    return _list_page(context, request)


@view_config(route_name="dashboard", context=WebhooksSection, name="new",
             permission=MANAGE_KEYS, request_method="GET", renderer=FORM)
def new_form(context, request):
    return _form_page(context, request)


@view_config(route_name="dashboard", context=WebhooksSection, name="new",
             permission=MANAGE_KEYS, request_method="POST", require_csrf=True, renderer=FORM)
def create(context, request):
    submitted = _submitted(request)
    try:
        data = _checked(request, WebhookCreate(), submitted)
        endpoint, secret = service.create_endpoint(
            request.db, request.registry["webhooks.box"], data["url"], data["events"],
            data["description"])
    except FormInvalid as exc:
        return _form_page(context, request, values=_shown_back(submitted), errors=exc.errors,
                          status=400)
    except service.TooManyEndpoints as exc:
        return _form_page(context, request, values=_shown_back(submitted),
                          errors={"form": f"This business already has {exc}."}, status=409)
    # Shown in this answer only (no-store); what is stored is sealed.
    request.override_renderer = LIST
    return _list_page(context, request, issued=endpoint, secret=secret)


@view_config(route_name="dashboard", context=WebhookResource, permission=MANAGE_KEYS,
             request_method="GET", renderer=FORM)
def edit_form(context, request):
    return _form_page(context, request, context.endpoint, notice=request.GET.get("done"))


@view_config(route_name="dashboard", context=WebhookResource, permission=MANAGE_KEYS,
             request_method="POST", require_csrf=True, renderer=FORM)
def update(context, request):
    endpoint = context.endpoint
    submitted = _submitted(request)
    enabled = request.POST.get("enabled") == "on"
    try:
        changes = _checked(request, WebhookUpdate(), submitted)
    except FormInvalid as exc:
        return _form_page(context, request, endpoint,
                          {**_shown_back(submitted), "enabled": enabled}, exc.errors, 400)
    service.update_endpoint(request.db, endpoint, {**changes, "enabled": enabled})
    return HTTPFound(_endpoint_path(request, context) + "?done=saved")


@view_config(route_name="dashboard", context=WebhookResource, name="rotate",
             permission=MANAGE_KEYS, request_method="POST", require_csrf=True, renderer=FORM)
def rotate(context, request):
    secret = service.rotate_secret(request.db, request.registry["webhooks.box"],
                                   context.endpoint)
    return _form_page(context, request, context.endpoint, secret=secret)


@view_config(route_name="dashboard", context=WebhookResource, name="test",
             permission=MANAGE_KEYS, request_method="POST", require_csrf=True)
def send_test(context, request):
    service.queue_test(request.db, context.endpoint)
    return HTTPFound(_endpoint_path(request, context, "deliveries") + "?done=test")


@view_config(route_name="dashboard", context=WebhookResource, name="delete",
             permission=MANAGE_KEYS, request_method="GET",
             renderer=TEMPLATES + "webhook_delete.jinja2")
def confirm_delete(context, request):
    return page(context, request, "webhooks", endpoint=context.endpoint)


@view_config(route_name="dashboard", context=WebhookResource, name="delete",
             permission=MANAGE_KEYS, request_method="POST", require_csrf=True)
def delete(context, request):
    service.delete_endpoint(request.db, context.endpoint)
    return HTTPFound(_section_path(request, context) + "?done=deleted")


@view_config(route_name="dashboard", context=WebhookResource, name="deliveries",
             permission=MANAGE_KEYS, request_method="GET",
             renderer=TEMPLATES + "webhook_deliveries.jinja2")
def deliveries(context, request):
    page_number = min(as_id(request.GET.get("page", "1")) or 1, 100_000)
    total, attempts = service.attempts_page(request.db, context.endpoint.id, page_number,
                                            PER_PAGE)
    last = max(1, -(-total // PER_PAGE))
    # One "Retry now" per delivery: on its newest attempt, which comes first.
    seen, rows = set(), []
    for attempt in attempts:
        rows.append({"attempt": attempt, "retry": attempt.delivery_id not in seen})
        seen.add(attempt.delivery_id)
    return page(context, request, "webhooks", endpoint=context.endpoint, rows=rows, total=total,
                page_number=page_number, notice=request.GET.get("done"),
                previous=f"?page={page_number - 1}" if page_number > 1 else None,
                next=f"?page={page_number + 1}" if page_number < last else None)


@view_config(route_name="dashboard", context=WebhookResource, name="retry",
             permission=MANAGE_KEYS, request_method="POST", require_csrf=True)
def retry(context, request):
    delivery_id = as_id(request.POST.get("delivery", ""))
    if delivery_id is None or not service.retry_delivery(request.db, context.endpoint,
                                                         delivery_id):
        raise HTTPNotFound()
    return HTTPFound(_endpoint_path(request, context, "deliveries") + "?done=retry")

