"""/webhooks/: a tenant's endpoints, their secrets, test events and delivery log."""

import colander

from tracee.api.errors import api_error
from tracee.api.pagination import PageQuery, paginate
from tracee.api.schemas import (
    StrictBoolean,
    StrictString,
    clean_text,
    json_body,
    path_id,
    printable,
    querystring,
)
from tracee.api.v1.representation import iso
from tracee.api.v1.services import api_service
from tracee.webhooks import endpoints as service
from tracee.webhooks.events import event_id
from tracee.webhooks.models import TRACKER_EVENTS
from tracee.webhooks.ssrf import TargetRefused, check_url

webhooks = api_service("webhooks", "/webhooks")
webhook = api_service("webhook", "/webhooks/{id}")
rotate = api_service("webhook_rotate_secret", "/webhooks/{id}/rotate-secret")
test = api_service("webhook_test", "/webhooks/{id}/test")
deliveries = api_service("webhook_deliveries", "/webhooks/{id}/deliveries")
retry = api_service("webhook_delivery_retry", "/webhooks/{id}/deliveries/{delivery_id}/retry")

MAX_URL, MAX_DESCRIPTION = 2000, 500


def _distinct(node, values):
    if len(set(values)) != len(values):
        raise colander.Invalid(node, "must not repeat an event")


def url_node(**kw):
    return colander.SchemaNode(
        StrictString(), preparer=clean_text,
        validator=colander.All(
            colander.Length(min=1, max=MAX_URL, min_err="must not be empty",
                            max_err=f"must be at most {MAX_URL} characters"),
            printable),
        **kw)


def events_node(**kw):
    event = colander.SchemaNode(StrictString(), validator=colander.OneOf(
        TRACKER_EVENTS, msg_err=f"must be one of: {', '.join(TRACKER_EVENTS)}"))
    return colander.SchemaNode(
        colander.Sequence(), event,
        validator=colander.All(colander.Length(min=1, min_err="must list at least one event"),
                               _distinct),
        **kw)


def description_node(**kw):
    return colander.SchemaNode(
        StrictString(), preparer=clean_text,
        validator=colander.All(
            colander.Length(max=MAX_DESCRIPTION,
                            max_err=f"must be at most {MAX_DESCRIPTION} characters"),
            printable),
        **kw)


class WebhookCreate(colander.MappingSchema):
    url = url_node()
    events = events_node(missing=list(TRACKER_EVENTS))
    description = description_node(missing="")


class WebhookUpdate(colander.MappingSchema):
    url = url_node(missing=colander.drop)
    events = events_node(missing=colander.drop)
    description = description_node(missing=colander.drop)
    enabled = colander.SchemaNode(StrictBoolean(), missing=colander.drop)


def endpoint_json(endpoint) -> dict:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.event_list,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def attempt_json(attempt) -> dict:
    return {
        "delivery_id": attempt.delivery_id,
        "event_id": attempt.event_id,
        "event_type": attempt.event_type,
        "attempt": attempt.number,
        "attempted_at": iso(attempt.attempted_at),
        "response_status": attempt.status,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "response_body": attempt.response_body,
        "next_attempt_at": iso(attempt.next_attempt_at),
    }


def _checked_url(request, url: str) -> str:
    try:
        check_url(url, request.registry["webhooks.settings"])
    except TargetRefused as exc:
        raise api_error(400, str(exc), name="url") from None
    return url


def _load(request):
    endpoint_id = path_id(request)
    found = service.find_endpoint(request.db, endpoint_id)
    if found is None:
        raise api_error(404, f"no webhook with id {endpoint_id}", location="path", name="id")
    return found


@webhooks.post(validators=(json_body(WebhookCreate()),))
def create(request):
    data = request.validated
    try:
        endpoint, secret = service.create_endpoint(
            request.db, request.registry["webhooks.box"], _checked_url(request, data["url"]),
            data["events"], data["description"])
    except service.TooManyEndpoints as exc:
        raise api_error(409, str(exc)) from None
    request.response.status = 201
    request.response.location = request.urls.base + f"/api/v1/webhooks/{endpoint.id}/"
    return {**endpoint_json(endpoint), "secret": secret}


@webhooks.get()
def list_all(request):
    return [endpoint_json(e) for e in service.list_endpoints(request.db)]


@webhook.get()
def read(request):
    return endpoint_json(_load(request))


@webhook.patch(validators=(json_body(WebhookUpdate()),))
def change(request):
    endpoint = _load(request)
    changes = dict(request.validated)
    if "url" in changes:
        _checked_url(request, changes["url"])
    service.update_endpoint(request.db, endpoint, changes)
    return endpoint_json(endpoint)


@webhook.delete()
def remove(request):
    service.delete_endpoint(request.db, _load(request))
    request.response.status = 204
    request.response.content_type = None  # no body, so no type
    return request.response


@rotate.post()
def rotate_secret(request):
    endpoint = _load(request)
    secret = service.rotate_secret(request.db, request.registry["webhooks.box"], endpoint)
    return {**endpoint_json(endpoint), "secret": secret}


@test.post()
def send_test(request):
    endpoint = _load(request)
    delivery_id = service.queue_test(request.db, endpoint)
    request.response.status = 202
    return {"delivery_id": delivery_id,
            "event_id": event_id(request.context.tenant_id, None, None, delivery_id),
            "event_type": "webhook.test"}


@deliveries.get(validators=(querystring(PageQuery()),))
def delivery_log(request):
    endpoint = _load(request)
    page, per_page = request.validated["page"], request.validated["per_page"]
    total, attempts = service.attempts_page(request.db, endpoint.id, page, per_page)
    paginate(request, f"/api/v1/webhooks/{endpoint.id}/deliveries/", page, per_page, total)
    return [attempt_json(a) for a in attempts]


@retry.post()
def retry_delivery(request):
    endpoint = _load(request)
    delivery_id = path_id(request, "delivery_id")
    if not service.retry_delivery(request.db, endpoint, delivery_id):
        raise api_error(404, f"webhook {endpoint.id} has no delivery {delivery_id}",
                        location="path", name="delivery_id")
    request.response.status = 202
    return {"delivery_id": delivery_id, "status": "queued"}
