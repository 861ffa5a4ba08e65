"""Rate limits with `limits`: a moving window per API key and per client address.

Storage is ``memory://`` in development and Redis in production
(``tracee.ratelimit.storage`` / ``REDIS_URL``), so limits hold across workers.
"""

import math
import time
from dataclasses import dataclass

from limits import parse, parse_many, storage, strategies
from pyramid.httpexceptions import HTTPTooManyRequests
from redis.exceptions import NoScriptError


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when a slot frees up

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))


class RateLimiter:
    def __init__(self, storage_uri: str, api_default: str, public_default: str):
        self.storage = storage.storage_from_string(storage_uri)
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)
        self.api_default = parse(api_default)
        self.public_default = parse(public_default)
        self._parsed = {}

    def _item(self, rate: str | None, default):
        if rate is None:
            return default
        if rate not in self._parsed:
            self._parsed[rate] = parse(rate)
        return self._parsed[rate]

    def hit(self, namespace: str, identity: str, rate: str | None = None) -> Verdict:
        """Count one request; the verdict carries the figures for the headers."""
        if isinstance(self.storage, storage.RedisStorage):
            try:
                return self._hit_pipelined(namespace, identity, rate)
            except NoScriptError:
                pass  # Redis lost the scripts (restart, SCRIPT FLUSH); the calls below reload them
        return self.verdict(namespace, identity, self.allow(namespace, identity, rate), rate)

    def _hit_pipelined(self, namespace: str, identity: str, rate: str | None) -> Verdict:
        """``allow`` then ``verdict`` in one Redis round trip instead of two.

        ``limits`` has no single call that counts a request and returns the
        window's figures, so this sends its own two moving-window scripts,
        with the arguments its ``acquire_entry`` and ``get_moving_window``
        give them, in one pipeline. Plain EVALSHA, not the pipeline's script
        registry, which would add a SCRIPT EXISTS round trip to every call.
        """
        item = self._item(rate, self.api_default if namespace == "key" else self.public_default)
        key = self.storage.prefixed_key(item.key_for(namespace, identity))
        expiry, now = item.get_expiry(), time.time()
        acquire, window = self.storage.lua_acquire_moving_window, self.storage.lua_moving_window
        pipe = self.storage.get_connection().pipeline(transaction=False)
        pipe.evalsha(acquire.sha, 1, key, now, item.amount, expiry, 1)
        pipe.evalsha(window.sha, 1, key, now - expiry, item.amount)
        acquired, counted = pipe.execute()
        oldest, count = (float(counted[0]), int(counted[1])) if counted else (now, 0)
        return Verdict(bool(acquired), item.amount, item.amount - count, oldest + expiry)

    def allow(self, namespace: str, identity: str, rate: str | None = None) -> bool:
        """Count one request and only say whether it is within the limit,
        without the figures ``hit`` also fetches (pages send no headers)."""
        item = self._item(rate, self.api_default if namespace == "key" else self.public_default)
        return self.strategy.hit(item, namespace, identity)

    def verdict(self, namespace: str, identity: str, allowed: bool,
                rate: str | None = None) -> Verdict:
        item = self._item(rate, self.api_default if namespace == "key" else self.public_default)
        stats = self.strategy.get_window_stats(item, namespace, identity)
        return Verdict(allowed, item.amount, stats.remaining, stats.reset_time)

    def reset(self) -> None:
        self.storage.reset()


RATE_MAX_LENGTH = 40  # api_keys.rate_limit


def is_valid_rate(rate: str) -> bool:
    """One limit such as ``1000/minute``: at least one request in a non-empty period.

    ``limits`` also parses ``0/minute`` (a key nobody can use), ``5/0 minute``
    and ``1/second;9/day`` (of which only the first would be applied).
    """
    if len(rate) > RATE_MAX_LENGTH or rate != rate.strip():
        return False
    try:
        items = parse_many(rate)
    except ValueError:
        return False
    return len(items) == 1 and items[0].amount >= 1 and items[0].multiples >= 1


def includeme(config):
    settings = config.get_settings()
    config.registry["ratelimiter"] = RateLimiter(
        settings["tracee.ratelimit.storage"],
        settings["tracee.ratelimit.api"],
        settings["tracee.ratelimit.public"],
    )
    config.add_tween("tracee.ratelimit.public_rate_limit_tween_factory")


PUBLIC_PREFIXES = ("/track/", "/embed/")


def client_address(request, proxy_hops: int) -> str:
    """The address to limit: REMOTE_ADDR, or the one our own proxies put in X-Forwarded-For.

    Not ``request.client_addr``: that takes the *first* X-Forwarded-For entry,
    which the client writes, so every forged value got a fresh budget. With
    ``tracee.ratelimit.proxy_hops = N`` (N trusted proxies in front, e.g. a load
    balancer before gunicorn) the N-th entry from the right is the client as our
    outermost proxy saw it; entries left of it are the client's own claims.
    """
    if proxy_hops:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxy_hops:
            return forwarded[-proxy_hops]
    return request.remote_addr or "unknown"


def public_rate_limit_tween_factory(handler, registry):
    """Customers' pages are limited per client address (the API limits per key)."""
    limiter = registry["ratelimiter"]
    proxy_hops = int(registry.settings.get("tracee.ratelimit.proxy_hops", "0"))

    def tween(request):
        if not request.path_info.startswith(PUBLIC_PREFIXES):
            return handler(request)
        address = client_address(request, proxy_hops)
        # Pages carry no X-RateLimit headers, so the figures are fetched for a refusal only.
        if not limiter.allow("addr", address):
            verdict = limiter.verdict("addr", address, allowed=False)
            return HTTPTooManyRequests(
                "Too many requests from your address; please wait a moment.",
                headers={"Retry-After": str(verdict.retry_after), **verdict.headers()},
            )
        return handler(request)

    return tween
