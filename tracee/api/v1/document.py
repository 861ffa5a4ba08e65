"""/openapi.json: this API's OpenAPI document, for anyone (no key needed)."""

import json

from tracee.api.openapi import build_document, operation
from tracee.api.v1.message_shapes import MESSAGE_SCHEMAS
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import SCHEMAS
from tracee.api.v1.webhook_shapes import WEBHOOK_SCHEMAS


def no_key(request):
    """The document is public: no key, no rate limit, no database."""
    return None


document = api_service("openapi", "/openapi.json", factory=no_key)


def _built(registry) -> bytes:
    """Built on first use: the services are all registered only once the app is."""
    if "api.openapi" not in registry:
        spec = build_document(registry, registry.settings["tracee.public_url"],
                              {**SCHEMAS, **WEBHOOK_SCHEMAS, **MESSAGE_SCHEMAS})
        registry["api.openapi"] = json.dumps(spec, indent=1, ensure_ascii=False).encode()
    return registry["api.openapi"]


@document.get()
@operation(200, {"type": "object", "description": "an OpenAPI 3.1 document"},
           "This document", tag="openapi")
def openapi_json(request):
    """The OpenAPI 3.1 description of every operation under /api/v1."""
    response = request.response
    response.cache_control = "public, max-age=300"
    response.content_type = "application/json"
    response.charset = "utf-8"
    response.body = _built(request.registry)
    return response
