"""The JSON Schemas and examples of what /webhooks/ answers (see shapes.py)."""

from tracee.api.v1.shapes import NULLABLE_TIME, TIME, _object
from tracee.webhooks.models import TEST_EVENT, TRACKER_EVENTS


def ref(name: str) -> dict:
    assert name in WEBHOOK_SCHEMAS, name
    return {"$ref": f"#/components/schemas/{name}"}


EVENT_NAMES = {"type": "array", "items": {"type": "string", "enum": list(TRACKER_EVENTS)}}
# Standard Webhooks: whsec_ and the base64 of 24 to 64 random bytes.
SECRET = {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]{32,88}={0,2}$",
          "description": "the signing secret, shown only in this answer: keep it"}

WEBHOOK = _object({
    "id": {"type": "integer", "minimum": 1},
    "url": {"type": "string"},
    "events": EVENT_NAMES,
    "description": {"type": "string"},
    "enabled": {"type": "boolean"},
    "disabled_reason": {"type": ["string", "null"],
                        "description": "why the endpoint was disabled, while it is"},
    "created_at": TIME,
    "updated_at": TIME,
})
WEBHOOK_WITH_SECRET = {
    **WEBHOOK,
    "required": [*WEBHOOK["required"], "secret"],
    "properties": {**WEBHOOK["properties"], "secret": SECRET},
}
DELIVERY_ATTEMPT = _object({
    "delivery_id": {"type": "integer", "minimum": 1},
    "event_id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$",
                 "description": "the webhook-id header: the same on every "
                 "attempt of one event"},
    "event_type": {"type": "string", "enum": [*TRACKER_EVENTS, TEST_EVENT]},
    "attempt": {"type": "integer", "minimum": 1},
    "attempted_at": TIME,
    "response_status": {"type": ["integer", "null"],
                        "description": "null when no answer came (timeout, refused)"},
    "duration_ms": {"type": "integer", "minimum": 0},
    "error": {"type": ["string", "null"]},
    "response_body": {"type": ["string", "null"],
                      "description": "the first kilobyte of the receiver's answer"},
    "next_attempt_at": {**NULLABLE_TIME, "description": "null when no retry is planned"},
})
TEST_QUEUED = _object({
    "delivery_id": {"type": "integer", "minimum": 1},
    "event_id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"},
    "event_type": {"type": "string", "enum": [TEST_EVENT]},
})
RETRY_QUEUED = _object({
    "delivery_id": {"type": "integer", "minimum": 1},
    "status": {"type": "string", "enum": ["queued"]},
})

WEBHOOK_SCHEMAS = {
    "Webhook": WEBHOOK,
    "WebhookWithSecret": WEBHOOK_WITH_SECRET,
    "DeliveryAttempt": DELIVERY_ATTEMPT,
    "TestQueued": TEST_QUEUED,
    "RetryQueued": RETRY_QUEUED,
}

CREATE_EXAMPLE = {"url": "https://example.com/hooks/tracee",
                  "events": ["tracker.status_changed", "tracker.completed"],
                  "description": "Order updates for the shop"}
WEBHOOK_EXAMPLE = {
    "id": 3,
    **CREATE_EXAMPLE,
    "enabled": True,
    "disabled_reason": None,
    "created_at": "2026-01-31T09:58:00Z",
    "updated_at": "2026-01-31T09:58:00Z",
}
SECRET_EXAMPLE = {**WEBHOOK_EXAMPLE,
                  "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw7mN1kV0cQbE="}
UPDATE_EXAMPLE = {"enabled": False}
ATTEMPT_EXAMPLE = {
    "delivery_id": 118,
    "event_id": "evt_5a0d2f0c8f4b5a8e9d3c2b7c1e4f6a90",
    "event_type": "tracker.status_changed",
    "attempt": 2,
    "attempted_at": "2026-01-31T10:35:07Z",
    "response_status": 503,
    "duration_ms": 184,
    "error": None,
    "response_body": "Service Unavailable",
    "next_attempt_at": "2026-01-31T10:40:07Z",
}
