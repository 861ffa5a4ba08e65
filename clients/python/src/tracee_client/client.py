"""TraceeClient: the API's calls as methods, over one HTTP session."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union, cast
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from tracee_client._version import __version__
from tracee_client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    TraceeError,
    error_from_response,
)
from tracee_client.retry import RetryPolicy, parse_retry_after
from tracee_client.types import (
    Action,
    DeliveryAttempt,
    RetryQueued,
    StepInput,
    Template,
    TestQueued,
    Tracker,
    TrackerSummary,
    Webhook,
    WebhookEvent,
    WebhookWithSecret,
)

DEFAULT_BASE_URL = "https://tracee.app"
#: (connect, read) seconds; a QR image or a page of 100 trackers comes well within.
DEFAULT_TIMEOUT = (5.0, 30.0)

Timeout = Union[float, tuple[float, float]]


class TraceeClient:
    """A client for the Tracee API (``/api/v1``).

    ``api_key`` defaults to the ``TRACEE_API_KEY`` environment variable.
    Every call either returns the API's decoded JSON or raises a
    ``TraceeError`` subclass. Answers 429 and 5xx and failed connections are
    retried up to ``max_retries`` times (see ``RetryPolicy``); every POST
    carries an ``Idempotency-Key``, the same on each of its retries, so a
    retried create cannot make a second tracker.

    Use it as a context manager, or call ``close()``, to release its
    connections::

        with TraceeClient() as tracee:
            tracker = tracee.create_tracker("Order #1234", template="3d-printing")
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 60.0,
    ) -> None:
        key = api_key or os.environ.get("TRACEE_API_KEY")
        if not key:
            raise TraceeError("no API key: pass api_key= or set TRACEE_API_KEY")
        self.api_key: str = key
        if not base_url.startswith(("https://", "http://")):
            raise TraceeError(f"base_url must start with https:// or http://, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries, backoff_base, backoff_max, max_retry_after)
        self._session = requests.Session()
        self._session.headers.update({
            "X-API-Key": key,
            "Accept": "application/json",
            "User-Agent": f"tracee-client/{__version__} python-requests/{requests.__version__}",
        })

    def __repr__(self) -> str:
        # Never the whole key: a repr ends up in logs.
        return f"TraceeClient(base_url={self.base_url!r}, api_key='…{self.api_key[-4:]}')"

    # --- the calls of the documented example -----------------------------------------

    def create_tracker(
        self,
        name: str,
        template: str | None = None,
        *,
        number: int | None = None,
        estimated_ready_at: str | None = None,
        idempotency_key: str | None = None,
    ) -> Tracker:
        """Create a tracker; ``template`` is a template slug such as ``"3d-printing"``.

        ``number`` sets the order number (by default it is taken from a
        ``#1234`` in the name, or the next free one). ``estimated_ready_at``
        (RFC 3339 with an offset, e.g. ``"2026-03-01T17:00:00Z"``) is a ready
        date promised to the customer. ``idempotency_key`` replaces the
        generated one, e.g. to retry a create from another process safely.
        """
        data: dict[str, Any] = {"name": name}
        if template:
            data["template"] = template
        if number is not None:
            data["number"] = number
        if estimated_ready_at is not None:
            data["estimated_ready_at"] = estimated_ready_at
        return cast(Tracker, self._post("/api/v1/trackers/", data, idempotency_key))

    def update_status(
        self,
        tracker_id: int | str,
        process: str,
        action: Action,
        *,
        idempotency_key: str | None = None,
    ) -> Tracker:
        """Start or complete a process step; ``action`` is ``"start"`` or ``"complete"``.

        Returns the tracker as it is afterwards.
        """
        path = f"/api/v1/trackers/{_segment(tracker_id)}/status/"
        data = {"process": process, "action": action}
        return cast(Tracker, self._post(path, data, idempotency_key))

    def get_tracker(self, tracker_id: int | str) -> Tracker:
        """A tracker with its history and every step."""
        path = f"/api/v1/trackers/{_segment(tracker_id)}/"
        return cast(Tracker, _json(self._request("GET", path)))

    def set_ready_date(self, tracker_id: int | str, when: str | None) -> Tracker:
        """Promise the customer a ready date (RFC 3339 with an offset), or with
        ``None`` go back to the estimate from the steps' expected durations."""
        path = f"/api/v1/trackers/{_segment(tracker_id)}/"
        response = self._request("PATCH", path, json={"estimated_ready_at": when})
        return cast(Tracker, _json(response))

    # --- the rest of the API ---------------------------------------------------------

    def list_trackers(
        self,
        *,
        completed: bool | None = None,
        late: bool | None = None,
        q: str | None = None,
        per_page: int | None = None,
    ) -> Iterator[TrackerSummary]:
        """Every tracker, newest first, fetched a page at a time as you iterate.

        ``completed`` keeps only finished (True) or unfinished (False) ones,
        ``late`` only those running late (True) or not (False), ``q`` matches
        the name or the order number, ``per_page`` (1-100) sets the page
        size. Pages are followed through the ``Link`` header.
        """
        filters: dict[str, str] = {}
        for name, flag in (("completed", completed), ("late", late)):
            if flag is not None:
                filters[name] = "true" if flag else "false"
        if q is not None:
            filters["q"] = q
        if per_page is not None:
            filters["per_page"] = str(per_page)
        return self._pages("/api/v1/trackers/", filters)

    def templates(self) -> list[Template]:
        """The built-in templates and the tenant's own."""
        return cast("list[Template]", _json(self._request("GET", "/api/v1/templates/")))

    def template(self, slug: str) -> Template:
        """One template by its slug."""
        path = f"/api/v1/templates/{_segment(slug)}/"
        return cast(Template, _json(self._request("GET", path)))

    def create_template(
        self,
        slug: str,
        name: str,
        steps: Iterable[str | StepInput],
        *,
        idempotency_key: str | None = None,
    ) -> Template:
        """Create a template of the tenant's own.

        ``steps`` are step names, or ``{"name": ..., "visible": False}`` for
        a step the customer's page does not show.
        """
        step_list = [{"name": s} if isinstance(s, str) else dict(s) for s in steps]
        data = {"slug": slug, "name": name, "steps": step_list}
        return cast(Template, self._post("/api/v1/templates/", data, idempotency_key))

    def qr_code(self, tracker_id: int | str, size: int | None = None) -> bytes:
        """The tracker's tracking URL as a QR code, as PNG bytes at least ``size`` px wide.

        ``size`` is 64-1200 (300 by default); the image is a whole number of
        pixels per module, so it may come out a little wider.
        """
        params = {"size": str(size)} if size is not None else None
        path = f"/api/v1/trackers/{_segment(tracker_id)}/qr/"
        return self._request("GET", path, params=params).content

    # --- webhooks --------------------------------------------------------------------

    def list_webhooks(self) -> list[Webhook]:
        """The tenant's webhook endpoints (never their secrets)."""
        return cast("list[Webhook]", _json(self._request("GET", "/api/v1/webhooks/")))

    def create_webhook(
        self,
        url: str,
        events: Iterable[WebhookEvent] | None = None,
        description: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> WebhookWithSecret:
        """Add an endpoint receiving ``events`` (all of them by default).

        The answer's ``secret`` is shown only here (and by a rotation): keep
        it to verify the signatures. A retried create returns the same one.
        """
        data: dict[str, Any] = {"url": url}
        if events is not None:
            data["events"] = list(events)
        if description is not None:
            data["description"] = description
        return cast(WebhookWithSecret, self._post("/api/v1/webhooks/", data, idempotency_key))

    def get_webhook(self, webhook_id: int | str) -> Webhook:
        return cast(Webhook, _json(self._request("GET", _webhook_path(webhook_id))))

    def update_webhook(
        self,
        webhook_id: int | str,
        *,
        url: str | None = None,
        events: Iterable[WebhookEvent] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        """Change the fields given; ``enabled=True`` resumes a disabled endpoint."""
        data: dict[str, Any] = {"url": url, "description": description, "enabled": enabled}
        data = {name: value for name, value in data.items() if value is not None}
        if events is not None:
            data["events"] = list(events)
        response = self._request("PATCH", _webhook_path(webhook_id), json=data)
        return cast(Webhook, _json(response))

    def delete_webhook(self, webhook_id: int | str) -> None:
        """Delete the endpoint, its queue and its delivery log."""
        self._request("DELETE", _webhook_path(webhook_id))

    def rotate_webhook_secret(
        self, webhook_id: int | str, *, idempotency_key: str | None = None
    ) -> WebhookWithSecret:
        """A new secret, shown once; the old one keeps signing beside it for 24 hours."""
        path = _webhook_path(webhook_id) + "rotate-secret/"
        return cast(WebhookWithSecret, self._post(path, None, idempotency_key))

    def test_webhook(
        self, webhook_id: int | str, *, idempotency_key: str | None = None
    ) -> TestQueued:
        """Queue a ``webhook.test`` event for the endpoint."""
        path = _webhook_path(webhook_id) + "test/"
        return cast(TestQueued, self._post(path, None, idempotency_key))

    def webhook_deliveries(
        self, webhook_id: int | str, *, per_page: int | None = None
    ) -> Iterator[DeliveryAttempt]:
        """Every delivery attempt to the endpoint, newest first, a page at a time."""
        filters = {"per_page": str(per_page)} if per_page is not None else {}
        return self._pages(_webhook_path(webhook_id) + "deliveries/", filters)

    def retry_delivery(
        self,
        webhook_id: int | str,
        delivery_id: int | str,
        *,
        idempotency_key: str | None = None,
    ) -> RetryQueued:
        """Send one delivery again, now."""
        path = f"{_webhook_path(webhook_id)}deliveries/{_segment(delivery_id)}/retry/"
        return cast(RetryQueued, self._post(path, None, idempotency_key))

    # --- the session -----------------------------------------------------------------

    def close(self) -> None:
        """Release the pooled connections."""
        self._session.close()

    def __enter__(self) -> TraceeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- requests, retries and pages -------------------------------------------------

    def _post(
        self, path: str, data: Mapping[str, Any] | None, idempotency_key: str | None
    ) -> Any:
        key = idempotency_key or str(uuid.uuid4())
        return _json(self._request("POST", path, json=data, idempotency_key=key))

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> requests.Response:
        """Send one call, retrying as the policy allows; a 2xx answer or a raise."""
        url = self.base_url + path
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        retries = 0
        while True:
            retry_after = None
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=headers,
                    timeout=self.timeout, allow_redirects=False,
                )
            except requests.Timeout as exc:
                error: TraceeError = APITimeoutError(f"{method} {url}: timed out ({exc})")
                error.__cause__ = exc
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                error = APIConnectionError(f"{method} {url}: connection failed ({exc})")
                error.__cause__ = exc
            else:
                if response.status_code < 300:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = error_from_response(response, retry_after)
            wait = self.retry.wait_before_retry(retries, error, retry_after)
            if wait is None:
                error.idempotency_key = idempotency_key
                raise error
            time.sleep(wait)
            retries += 1

    def _pages(self, path: str, filters: dict[str, str]) -> Iterator[Any]:
        params = dict(filters)
        page = 1
        while True:
            response = self._request("GET", path, params=params)
            yield from _json(response)
            following = response.links.get("next")
            if not following:
                return
            # Only the link's query is taken, sent to our own base_url: the key
            # never goes to another host, and the filters are kept even if the
            # link left them out.
            query = dict(parse_qsl(urlsplit(following["url"]).query))
            raw_page = query.get("page", "")
            next_page = int(raw_page) if raw_page.isdigit() else 0
            if next_page <= page:
                raise TraceeError(f"the API's next page link does not advance: {following['url']}")
            page = next_page
            params = {**query, **filters}


def _webhook_path(webhook_id: int | str) -> str:
    return f"/api/v1/webhooks/{_segment(webhook_id)}/"


def _segment(value: int | str) -> str:
    """A path segment, quoted: an id or a slug never reaches another path."""
    return quote(str(value), safe="")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        # e.g. a proxy's HTML page answered in the API's place.
        raise APIError(
            f"{response.status_code}: expected JSON from {response.url}, got "
            f"{response.headers.get('Content-Type') or 'no content type'}",
            status_code=response.status_code, response=response,
        ) from None
