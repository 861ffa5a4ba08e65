"""/webhooks/: a tenant's endpoints, their secrets, test events and delivery log."""

from tracee.api.errors import api_error
from tracee.api.idempotent import holds_secret
from tracee.api.openapi import operation
from tracee.api.pagination import PageQuery, paginate
from tracee.api.schemas import json_body, path_id, querystring
from tracee.api.v1.representation import iso
from tracee.api.v1.services import api_service
from tracee.api.v1.webhook_shapes import (
    ATTEMPT_EXAMPLE,
    CREATE_EXAMPLE,
    SECRET_EXAMPLE,
    UPDATE_EXAMPLE,
    WEBHOOK_EXAMPLE,
    ref,
)
from tracee.webhooks import endpoints as service
from tracee.webhooks.events import event_id
from tracee.webhooks.input import WebhookCreate, WebhookUpdate
from tracee.webhooks.ssrf import TargetRefused, check_url

webhooks = api_service("webhooks", "/webhooks")
webhook = api_service("webhook", "/webhooks/{id}")
rotate = api_service("webhook_rotate_secret", "/webhooks/{id}/rotate-secret")
test = api_service("webhook_test", "/webhooks/{id}/test")
deliveries = api_service("webhook_deliveries", "/webhooks/{id}/deliveries")
retry = api_service("webhook_delivery_retry", "/webhooks/{id}/deliveries/{delivery_id}/retry")

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
@operation(201, ref("WebhookWithSecret"), "Add a webhook endpoint", headers=("Location",),
           others={400: "the URL is refused: not https, or its host does not resolve, or "
                        "resolves to a private address",
                   409: "the tenant has as many endpoints as it may"},
           request_example=CREATE_EXAMPLE, example=SECRET_EXAMPLE, tag="webhooks")
def create(request):
    """An endpoint receiving ``events`` (all of ``tracker.created``, ``tracker.status_changed``,
    ``tracker.completed`` unless given), signed per Standard Webhooks with ``secret``: this
    answer is the only one that shows it."""
    data = request.validated
    try:
        endpoint, secret = service.create_endpoint(
            request.db, request.registry["webhooks.box"], _checked_url(request, data["url"]),
            data["events"], data["description"])
    except service.TooManyEndpoints as exc:
        raise api_error(409, str(exc)) from None
    holds_secret(request)
    request.response.status = 201
    request.response.location = request.urls.base + f"/api/v1/webhooks/{endpoint.id}/"
    return {**endpoint_json(endpoint), "secret": secret}


@webhooks.get()
@operation(200, {"type": "array", "items": ref("Webhook")}, "List webhook endpoints",
           example=[WEBHOOK_EXAMPLE], tag="webhooks")
def list_all(request):
    """Every endpoint of the tenant, oldest first, without secrets."""
    return [endpoint_json(e) for e in service.list_endpoints(request.db)]


@webhook.get()
@operation(200, ref("Webhook"), "Get a webhook endpoint", example=WEBHOOK_EXAMPLE,
           tag="webhooks")
def read(request):
    return endpoint_json(_load(request))


@webhook.patch(validators=(json_body(WebhookUpdate()),))
@operation(200, ref("Webhook"), "Change a webhook endpoint",
           others={400: "the URL is refused (see create)"},
           request_example=UPDATE_EXAMPLE, example={**WEBHOOK_EXAMPLE, "enabled": False,
                                                     "disabled_reason": "disabled by the API"},
           tag="webhooks")
def change(request):
    """Only the fields given change. ``enabled: true`` resumes a disabled endpoint's queue,
    in order."""
    endpoint = _load(request)
    changes = dict(request.validated)
    if "url" in changes:
        _checked_url(request, changes["url"])
    service.update_endpoint(request.db, endpoint, changes)
    return endpoint_json(endpoint)


@webhook.delete()
@operation(204, None, "Delete a webhook endpoint", tag="webhooks")
def remove(request):
    """The endpoint, its queue and its delivery log."""
    service.delete_endpoint(request.db, _load(request))
    request.response.status = 204
    request.response.content_type = None  # no body, so no type
    return request.response


@rotate.post()
@operation(200, ref("WebhookWithSecret"), "Rotate a webhook's secret", example=SECRET_EXAMPLE,
           tag="webhooks")
def rotate_secret(request):
    """A new secret, shown only in this answer; the old one keeps signing beside it (a second
    signature) for 24 hours."""
    endpoint = _load(request)
    secret = service.rotate_secret(request.db, request.registry["webhooks.box"], endpoint)
    holds_secret(request)
    return {**endpoint_json(endpoint), "secret": secret}


@test.post()
@operation(202, ref("TestQueued"), "Send a test event", tag="webhooks",
           example={"delivery_id": 119, "event_id": ATTEMPT_EXAMPLE["event_id"],
                    "event_type": "webhook.test"})
def send_test(request):
    """Queues a ``webhook.test`` event for this endpoint; its attempts show in the log."""
    endpoint = _load(request)
    delivery_id = service.queue_test(request.db, endpoint)
    request.response.status = 202
    return {"delivery_id": delivery_id,
            "event_id": event_id(request.context.tenant_id, None, None, delivery_id),
            "event_type": "webhook.test"}


@deliveries.get(validators=(querystring(PageQuery()),))
@operation(200, {"type": "array", "items": ref("DeliveryAttempt")}, "List delivery attempts",
           headers=("X-Total-Count", "Link"), example=[ATTEMPT_EXAMPLE], tag="webhooks")
def delivery_log(request):
    """Every attempt to deliver to this endpoint, newest first, a page at a time."""
    endpoint = _load(request)
    params = request.validated
    total, attempts = service.attempts_page(request.db, endpoint.id, params["page"],
                                            params["per_page"])
    paginate(request, f"/api/v1/webhooks/{endpoint.id}/deliveries/", params, total)
    return [attempt_json(a) for a in attempts]


@retry.post()
@operation(202, ref("RetryQueued"), "Send a delivery again, now", tag="webhooks",
           example={"delivery_id": 118, "status": "queued"})
def retry_delivery(request):
    """The delivery goes out at once (its event's earlier ones of the same tracker first);
    a pending one keeps its schedule of retries."""
    endpoint = _load(request)
    delivery_id = path_id(request, "delivery_id")
    if not service.retry_delivery(request.db, endpoint, delivery_id):
        raise api_error(404, f"webhook {endpoint.id} has no delivery {delivery_id}",
                        location="path", name="delivery_id")
    request.response.status = 202
    return {"delivery_id": delivery_id, "status": "queued"}
