"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from tracee_client.errors import APIConnectionError, RateLimitError, ServerError, TraceeError


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429, 5xx and failed connections, with exponential backoff and jitter.

    The n-th retry (from 0) waits between half and all of
    ``min(backoff_max, backoff_base * 2**n)`` seconds, chosen at random so
    that many clients failing together do not come back together. An answer
    carrying ``Retry-After`` waits that long instead (plus up to
    ``backoff_base`` of jitter), unless it asks for more than
    ``max_retry_after`` seconds: then the error is raised at once, and
    ``RateLimitError.retry_after`` tells the caller when to come back.
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if min(self.backoff_base, self.backoff_max, self.max_retry_after) < 0:
            raise ValueError("backoff_base, backoff_max and max_retry_after must be 0 or more")

    def wait_before_retry(
        self, retries_done: int, error: TraceeError, retry_after: float | None
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to raise it."""
        if retries_done >= self.max_retries:
            return None
        if not isinstance(error, (RateLimitError, ServerError, APIConnectionError)):
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after + random.uniform(0, self.backoff_base)
        ceiling = min(self.backoff_max, self.backoff_base * 2**retries_done)
        return random.uniform(ceiling / 2, ceiling)
