"""``Idempotency-Key`` on every POST of the API (the IETF httpapi draft's semantics).

A POST sent with the header is done at most once per tenant and key: a retry
of the same request gets the first answer again (status, ``Location``, body)
marked ``Idempotent-Replayed: true``; the key with another request is a 422;
a retry while the first is still running is a 409. Only answers below 400
are kept, and only with the change they report (same transaction), so a
refused or failed request can be retried with its key.

An answer that shows a secret (a webhook's signing secret) is stored sealed:
its view calls :func:`holds_secret`, and the body is kept encrypted with the
registry's ``idempotency.sealer`` (the webhook secrets' Fernet keys), so the
table never holds the secret in clear while a retry still gets it back.

``idempotent`` wraps the view as rendered, outside Cornice's validators;
``tracee.api.v1.services`` gives it to every POST. A request without the
header costs one dictionary lookup.
"""

import hashlib
import re

from pyramid.response import Response

from tracee.api.errors import api_error
from tracee.api.schemas import read_body
from tracee.db import utcnow
from tracee.idempotency.store import KeyInUse, KeyReused, StoredAnswer, claim, remember

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_ENVIRON_NAME = "HTTP_IDEMPOTENCY_KEY"
_HOLDS_SECRET = "tracee.idempotency.holds_secret"
# Marks a sealed body: a JSON or PNG answer never starts with it.
SEALED = b"sealed:"
MAX_LENGTH = 255
# Printable ASCII with no space at either end (HTTP servers trim those before
# the app sees them, so a key that depends on them could not be retried).
# The OpenAPI document publishes this pattern.
DOCUMENTED_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"
_WELL_FORMED = re.compile(DOCUMENTED_PATTERN)


def idempotent(view):
    """A Pyramid view decorator: the view runs once per tenant and key."""

    def once_per_key(context, request):
        value = request.environ.get(_ENVIRON_NAME)
        if value is None:
            return view(context, request)
        return _run_once(view, context, request, _checked_key(value))

    return once_per_key


def holds_secret(request) -> None:
    """Say that this request's answer shows a secret: stored, it is sealed."""
    request.environ[_HOLDS_SECRET] = True


def _header_error(status: int, description: str):
    return api_error(status, description, location="header", name=HEADER)


def _checked_key(value: str) -> str:
    if not value:
        raise _header_error(400, f"{HEADER} must not be empty")
    if len(value) > MAX_LENGTH:
        raise _header_error(400, f"{HEADER} must be at most {MAX_LENGTH} characters")
    if not _WELL_FORMED.match(value):
        raise _header_error(
            400, f"{HEADER} must hold only printable ASCII characters, with no space at either end"
        )
    return value


def fingerprint(request, body: bytes) -> str:
    """What makes two requests the same one: method, path (either form), body."""
    path = request.environ.get("PATH_INFO", "").rstrip("/")
    head = f"{request.method} {path}\n".encode("latin-1")
    return hashlib.sha256(head + body).hexdigest()


def _run_once(view, context, request, key: str):
    body = read_body(request)
    request.body = body  # read again by the body's validator
    digest = fingerprint(request, body)
    now = utcnow()
    try:
        stored = claim(request.db, key, digest, now, request.registry["idempotency.keep"])
    except KeyInUse:
        raise _header_error(
            409, f"a request with this {HEADER} is still in progress; retry once it has ended"
        ) from None
    except KeyReused:
        raise _header_error(
            422, f"this {HEADER} was already used for a different request"
        ) from None
    sealer = request.registry.get("idempotency.sealer")
    if stored is not None:
        return _replay(stored, sealer)
    response = view(context, request)
    if response.status_code < 400:  # what the transaction tween commits
        body = response.body
        if request.environ.get(_HOLDS_SECRET):
            body = SEALED + sealer.seal_bytes(body)
        answer = StoredAnswer(response.status_code, response.headers.get("Content-Type"),
                              response.headers.get("Location"), body)
        remember(request.db, key, digest, answer, now)
    return response


def _replay(stored: StoredAnswer, sealer) -> Response:
    body = stored.body
    if body.startswith(SEALED):
        try:
            body = sealer.open_bytes(body[len(SEALED):])
        except ValueError:
            raise _header_error(409, f"the answer kept for this {HEADER} can no longer be "
                                "read (its encryption key was retired); send a new key") \
                from None
    headers = [(REPLAYED_HEADER, "true")]
    if stored.content_type:
        headers.append(("Content-Type", stored.content_type))
    if stored.location:
        headers.append(("Location", stored.location))
    return Response(status=stored.status, body=body, headerlist=headers)
