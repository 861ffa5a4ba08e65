"""What the client raises: one ``TraceeError`` family.

Answers with an error status raise an ``APIError`` subclass chosen by the
status, carrying the ``errors`` list of the API's one error body::

    {"status": "error", "errors": [{"location": "body", "name": "name",
                                    "description": "Required"}]}

Failures to get an answer at all raise ``APIConnectionError`` (or its
``APITimeoutError``). These also subclass the ``requests`` exceptions that a
bare ``requests`` integration would have seen (``HTTPError`` from
``raise_for_status()``, ``ConnectionError``, ``Timeout``), so handlers
written for the documented example keep catching them.
"""

from __future__ import annotations

from typing import Any, cast

import requests

from tracee_client.types import ErrorDetail


class TraceeError(Exception):
    """Base of everything the client raises.

    ``status_code`` is the HTTP status (None when no answer came), ``errors``
    the API's error entries (may be empty), ``idempotency_key`` the key a
    failed POST was sent with: retrying later with the same key is safe.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        errors: list[ErrorDetail] | None = None,
        response: requests.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.errors: list[ErrorDetail] = list(errors or [])
        self.response = response
        self.request = getattr(response, "request", None)
        self.idempotency_key: str | None = None

    def __str__(self) -> str:
        return self.message


class APIError(TraceeError, requests.HTTPError):
    """The API answered with an error status."""


class ValidationError(APIError):
    """400 or 422: the request was refused as given; ``errors`` names the fields."""


class AuthenticationError(APIError):
    """401: no API key, or one that is unknown or revoked."""


class NotFoundError(APIError):
    """404: no such tracker or template for this key's tenant."""


class ConflictError(APIError):
    """409: the request clashes with what exists (a template slug, an order number)."""


class RateLimitError(APIError):
    """429: the key's rate limit is spent; ``retry_after`` says for how many seconds."""

    retry_after: float | None = None


class ServerError(APIError):
    """5xx: the server failed; retried before it is raised."""


class APIConnectionError(TraceeError, requests.ConnectionError):
    """No answer: the connection failed or broke (retried before it is raised)."""


class APITimeoutError(APIConnectionError, requests.Timeout):
    """No answer in time: the connect or read timeout passed (retried before it is raised)."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class(status: int) -> type[APIError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


def _error_details(response: requests.Response) -> list[ErrorDetail]:
    try:
        body: Any = response.json()
    except ValueError:
        return []
    entries = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return []
    return [cast(ErrorDetail, entry) for entry in entries if isinstance(entry, dict)]


def _describe(entry: ErrorDetail) -> str:
    where = entry.get("name") or entry.get("location")
    description = entry.get("description", "")
    return f"{where}: {description}" if where else str(description)


def error_from_response(response: requests.Response, retry_after: float | None) -> APIError:
    """The APIError subclass for an error answer, with a message a person can read."""
    status = response.status_code
    errors = _error_details(response)
    detail = "; ".join(_describe(e) for e in errors)
    if not detail:
        if 300 <= status < 400:
            # The API never redirects; following would turn a POST into a GET.
            detail = f"unexpected redirect to {response.headers.get('Location')!r}; check base_url"
        else:
            detail = response.text.strip()[:200] or "no details"
    message = f"{status} {response.reason or ''}".rstrip() + f": {detail}"
    error = error_class(status)(message, status_code=status, errors=errors, response=response)
    if isinstance(error, RateLimitError):
        error.retry_after = retry_after
    return error
