"""The OpenAPI 3.1 document of /api/v1, built from the Cornice services themselves.

Paths, methods, path parameters, query parameters and request bodies come
from the services as registered (their routes and their ``json_body`` /
``querystring`` validators, whose Colander schemas are translated by
tracee.api.jsonschema). What a view answers is declared beside it with
``@operation(...)``; the errors every operation shares (400, 401, 404, 413,
429, and the Idempotency-Key's 409 and 422 on POSTs) are added here from
what the service is. A view without a declaration stops the document from
being built, so an endpoint cannot ship undocumented.

cornice_swagger, Cornice's own generator, writes Swagger 2 only and does not
know our validators; pyramid_openapi3 works the other way round (a
hand-written document drives validation), which would leave the Colander
schemas and the document to drift apart.
"""

import re
from dataclasses import dataclass, field

from tracee.api.context import (
    KEY_HEADER,
    TENANT_HEADER,
    api_context,
    api_context_allowing_query_key,
)
from tracee.api.idempotent import DOCUMENTED_PATTERN
from tracee.api.idempotent import HEADER as IDEMPOTENCY_KEY_HEADER
from tracee.api.jsonschema import node_schema
from tracee.api.schemas import PATH_PARAMETERS, SLUG_RE

VERSION_PREFIX = "/api/v1"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
_PATH_PARAMETER = re.compile(r"{(\w+)(?::[^}]*)?}")


@dataclass(frozen=True)
class Operation:
    status: int
    schema: dict | None
    summary: str
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()
    others: dict[int, str] = field(default_factory=dict)
    parameters: tuple[dict, ...] = ()
    example: object = None
    request_example: object = None
    tag: str | None = None


def operation(status: int, schema: dict | None, summary: str, **kw):
    """Declare what a view answers: its success status, the schema of its body
    (a dict, or None for no JSON body), a one-line summary, the ``headers``
    (names under components/headers) of the success answer, its ``others``
    answers ({status: when}; errors have the error shape), extra header
    ``parameters``, and examples. The view's docstring is its description.
    """

    def decorate(view):
        view.openapi = Operation(status, schema, summary, **kw)
        return view

    return decorate


# --- shared parts ---------------------------------------------------------------

_INT_HEADER = {"schema": {"type": "integer", "minimum": 0}}
HEADERS = {
    "X-RateLimit-Limit": {"description": "requests allowed in the window", **_INT_HEADER},
    "X-RateLimit-Remaining": {"description": "requests left in the window", **_INT_HEADER},
    "X-RateLimit-Reset": {"description": "when a slot frees up (Unix time)", **_INT_HEADER},
    "Retry-After": {"description": "seconds to wait before retrying", **_INT_HEADER},
    "WWW-Authenticate": {"schema": {"type": "string"}},
    "Location": {"description": "the address of what was created",
                 "schema": {"type": "string", "format": "uri"}},
    "X-Total-Count": {"description": "how many items match, over all pages", **_INT_HEADER},
    "Link": {"description": 'first, last, prev and next pages (RFC 8288), e.g. '
             '`<https://tracee.app/api/v1/trackers/?page=2&per_page=25>; rel="next"`',
             "schema": {"type": "string"}},
    "ETag": {"schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request "
        "with the same Idempotency-Key", "schema": {"type": "string", "enum": ["true"]},
    },
}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["status", "errors"],
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["location", "name", "description"],
                "properties": {
                    "location": {"type": "string", "description": "body, querystring, path, "
                                 "header, url or request: where the problem is"},
                    "name": {"type": ["string", "null"], "description": "the field at fault"},
                    "description": {"type": "string"},
                },
            },
        },
    },
    "example": {"status": "error", "errors": [
        {"location": "body", "name": "name", "description": "Required"}]},
}

IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_KEY_HEADER,
    "in": "header",
    "required": False,
    "description": "Makes a retried POST safe: within 24 hours, a request with the same key "
    "and body gets the first answer again (marked `Idempotent-Replayed: true`) instead of "
    "being done twice.",
    "schema": {"type": "string", "pattern": DOCUMENTED_PATTERN,
               "description": "1 to 255 printable ASCII characters, e.g. a UUID"},
}

ACTING_FOR = {
    "name": TENANT_HEADER,
    "in": "header",
    "required": False,
    "description": "An agency's key acts for one of its clients (at any depth below it) by "
    "naming the client's slug; data and idempotency keys are then the client's, the rate "
    "limit stays the key's. A tenant the key may not act for is a 404.",
    "schema": {"type": "string", "pattern": SLUG_RE.pattern.removesuffix(r"\Z") + "$",
               "maxLength": 63},
}

SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": KEY_HEADER,
                     "description": "`tk_live_` followed by 38 letters and digits"},
    "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key",
                    "description": "for `<img src=...>` tags only, where no header can be set"},
}
# What each route factory accepts as a key; a service with another factory is public.
SECURITY = {
    api_context: [{"ApiKeyHeader": []}],
    api_context_allowing_query_key: [{"ApiKeyHeader": []}, {"ApiKeyQuery": []}],
}


def _header_refs(names, required: bool) -> dict:
    # Inline: a reference cannot say whether this answer always carries the header.
    return {name: {**HEADERS[name], "required": required} for name in names}


def _error(description: str, headers=(), required_headers=()) -> dict:
    headers = {**_header_refs(headers, False), **_header_refs(required_headers, True)}
    answer = {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}
    if headers:
        answer["headers"] = headers
    return answer


def _either(*descriptions) -> str:
    return "; or ".join(d for d in descriptions if d)


# --- the document -----------------------------------------------------------------


def _parameters(service, validators) -> tuple[list, dict | None]:
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": node_schema(PATH_PARAMETERS[name])}
        for name in _PATH_PARAMETER.findall(service.path) if name != "_slash"
    ]
    body = None
    for validator in validators:
        location, schema = getattr(validator, "documents", (None, None))
        if location == "query":
            parameters.extend(
                {"name": child.name, "in": "query", "required": child.required,
                 "schema": node_schema(child)}
                for child in schema.children
            )
        elif location == "body":
            body = node_schema(schema)
    return parameters, body


def _responses(op: Operation, security, has_path: bool, has_input: bool, idempotent: bool):
    rate_limited = RATE_LIMIT_HEADERS if security else ()
    success = {"description": op.summary}
    if op.schema is not None:
        content = {"schema": op.schema}
        if op.example is not None:
            content["example"] = op.example
        success["content"] = {op.media_type: content}
    headers = {**_header_refs((*rate_limited, *op.headers), True)}
    if idempotent:
        headers.update(_header_refs(("Idempotent-Replayed",), False))
    if headers:
        success["headers"] = headers
    responses = {str(op.status): success}
    # Every address is checked as UTF-8 first, whatever the operation takes.
    responses["400"] = _error(_either("malformed request: the errors name each field at fault",
                                      op.others.get(400)), rate_limited)
    if security:
        responses["401"] = _error("no API key, or one that is unknown or revoked",
                                  required_headers=("WWW-Authenticate",))
    if has_path:
        responses["404"] = _error("not found (another tenant's objects are not found either; "
                                  "nor is a Tracee-Tenant this key may not act for)",
                                  rate_limited)
    if idempotent:
        responses["409"] = _error(_either(
            op.others.get(409), "a request with the same Idempotency-Key is still in progress"
        ), rate_limited)
        responses["422"] = _error(_either(
            op.others.get(422), "the Idempotency-Key was used with a different body"
        ), rate_limited)
    if has_input:
        responses["413"] = _error("the body is larger than the server accepts", rate_limited)
    if security:
        responses["429"] = _error("the key's rate limit is exhausted; retry after Retry-After "
                                  "seconds", required_headers=(*rate_limited, "Retry-After"))
    for status, description in op.others.items():
        other = _error(description, rate_limited) if status >= 400 else {
            "description": description, "headers": _header_refs(rate_limited, True)}
        responses.setdefault(str(status), other)
    return dict(sorted(responses.items()))


def _operation(service, method: str, view, args) -> dict:
    op = getattr(view, "openapi", None)
    if op is None:
        raise LookupError(f"{method} {service.path} ({view.__qualname__}) has no @operation")
    security = SECURITY.get(service.factory, [])
    parameters, body = _parameters(service, args.get("validators", ()))
    parameters.extend(op.parameters)
    if security:
        parameters.append(ACTING_FOR)
    idempotent = method == "POST"  # ApiService makes every POST idempotent
    if idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    # A path names something that may not exist; so does a Tracee-Tenant header.
    has_path = bool(security) or any(p.get("in") == "path" for p in parameters)
    described = {
        "operationId": f"{service.name}_{method.lower()}",
        "summary": op.summary,
        "tags": [op.tag or service.name.split("_")[0]],
        "security": security,
    }
    if view.__doc__:
        described["description"] = " ".join(view.__doc__.split())
    if parameters:
        described["parameters"] = parameters
    if body is not None:
        media = {"schema": body}
        if op.request_example is not None:
            media["example"] = op.request_example
        described["requestBody"] = {"required": True, "content": {"application/json": media}}
    described["responses"] = _responses(op, security, has_path, body is not None, idempotent)
    return described


def _path(registered: str) -> str:
    """``api/v1/trackers/{id}{_slash:/?}`` -> ``/trackers/{id}/`` (the documented spelling)."""
    path = "/" + registered.lstrip("/")
    return path.removeprefix(VERSION_PREFIX).replace("{_slash:/?}", "/")


def build_document(registry, public_url: str, component_schemas: dict) -> dict:
    paths = {}
    for registered, service in sorted(registry.cornice_services.items()):
        item = paths.setdefault(_path(registered), {})
        for method, view, args in service.definitions:
            if method != "HEAD":  # answered like GET, by HTTP's definition
                item[method.lower()] = _operation(service, method, view, args)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tracee API",
            "version": "1",
            "description": "Create a tracker per customer order, move it through the steps "
            "of a workflow template, and let the customer follow it on the tracking page, "
            "the embedded widget or a QR code. Every path answers with and without its "
            "trailing slash. Errors share one shape; every answer to a valid key carries "
            "the X-RateLimit-* headers.",
        },
        "servers": [{"url": public_url.rstrip("/") + VERSION_PREFIX}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **component_schemas},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
