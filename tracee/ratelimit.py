"""Rate limits with `limits`: a moving window per API key and per client address.

Three budgets: ``key`` (each API key), ``addr`` (each client address on the
public pages) and ``unknown-key`` (each client address, counting API requests
whose key is unknown or revoked).

Storage is ``memory://`` in development and Redis in production
(``tracee.ratelimit.storage`` / ``REDIS_URL``), so limits hold across workers.
"""

import math
import time
from dataclasses import dataclass

from limits import parse, parse_many, storage, strategies
from pyramid.httpexceptions import HTTPTooManyRequests
from redis.exceptions import NoScriptError

from tracee.paths import first_segment
from tracee.proxies import TrustedProxies


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
    def __init__(self, storage_uri: str, api_default: str, public_default: str,
                 unknown_key_default: str = "20/minute"):
        self.storage = storage.storage_from_string(storage_uri)
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)
        self.defaults = {
            "key": parse(api_default),
            "addr": parse(public_default),
            "unknown-key": parse(unknown_key_default),
        }
        self._parsed = {}
        # (namespace, identity) -> epoch when a slot frees; see hit_remembering_refusal
        self._refusals: dict[tuple[str, str], float] = {}

    def _item(self, namespace: str, rate: str | None):
        if rate is None:
            return self.defaults[namespace]
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
        item = self._item(namespace, rate)
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
        item = self._item(namespace, rate)
        return self.strategy.hit(item, namespace, identity)

    def verdict(self, namespace: str, identity: str, allowed: bool,
                rate: str | None = None) -> Verdict:
        item = self._item(namespace, rate)
        stats = self.strategy.get_window_stats(item, namespace, identity)
        return Verdict(allowed, item.amount, stats.remaining, stats.reset_time)

    MAX_REMEMBERED = 10_000

    def hit_remembering_refusal(self, namespace: str, identity: str) -> Verdict:
        """``hit``, and if refused, remember in this worker until a slot frees.

        For budgets whose refusals must be cheap: while remembered,
        ``refused_until`` answers without asking the storage. Other workers
        learn of the refusal at their own next hit.
        """
        verdict = self.hit(namespace, identity)
        if not verdict.allowed:
            if len(self._refusals) >= self.MAX_REMEMBERED:
                self._refusals.clear()  # bounded; the storage still holds the counts
            self._refusals[namespace, identity] = verdict.reset_at
        return verdict

    @property
    def remembers_refusals(self) -> bool:
        return bool(self._refusals)

    def refused_until(self, namespace: str, identity: str) -> float | None:
        """When a refusal remembered by ``hit_remembering_refusal`` ends, if it still holds."""
        until = self._refusals.get((namespace, identity))
        if until is not None and until <= time.time():
            del self._refusals[namespace, identity]
            return None
        return until

    def reset(self) -> None:
        self.storage.reset()
        self._refusals.clear()


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
    if "tracee.ratelimit.proxy_hops" in settings:
        # Counting hops trusted X-Forwarded-For from whoever sent it; refuse to
        # run on the old setting rather than quietly count every client as one.
        raise ValueError(
            "tracee.ratelimit.proxy_hops is no longer read: list the proxies' addresses "
            "in tracee.proxy.trusted instead (e.g. 127.0.0.1 10.0.0.0/8)"
        )
    if not is_valid_rate(settings["tracee.ratelimit.unknown_keys"]):
        raise ValueError("tracee.ratelimit.unknown_keys must be a rate like '20/minute'")
    limiter = RateLimiter(
        settings["tracee.ratelimit.storage"],
        settings["tracee.ratelimit.api"],
        settings["tracee.ratelimit.public"],
        settings["tracee.ratelimit.unknown_keys"],
    )
    config.registry["ratelimiter"] = limiter
    config.registry["trusted_proxies"] = TrustedProxies(settings["tracee.proxy.trusted"])
    config.add_request_method(client_address, "client_address", reify=True)
    config.add_tween("tracee.ratelimit.public_rate_limit_tween_factory")


def client_address(request) -> str:
    """The address to limit: REMOTE_ADDR, or the client our own proxies name.

    Not ``request.client_addr``: that takes the *first* X-Forwarded-For entry,
    which the client writes, so every forged value got a fresh budget.
    """
    return request.registry["trusted_proxies"].client_address(request.environ)


PUBLIC_ROOTS = ("track", "embed", "assets")  # assets: a guessed hash costs a lookup


def public_rate_limit_tween_factory(handler, registry):
    """Customers' pages are limited per client address (the API limits per key)."""
    limiter = registry["ratelimiter"]

    def tween(request):
        # As traversal will resolve the path: "/./track/<t>" is "/track/<t>" here too.
        if first_segment(request.environ.get("PATH_INFO", "")) not in PUBLIC_ROOTS:
            return handler(request)
        address = request.client_address
        # Pages carry no X-RateLimit headers, so the figures are fetched for a refusal only.
        if not limiter.allow("addr", address):
            verdict = limiter.verdict("addr", address, allowed=False)
            return HTTPTooManyRequests(
                "Too many requests from your address; please wait a moment.",
                headers={"Retry-After": str(verdict.retry_after), **verdict.headers()},
            )
        return handler(request)

    return tween
