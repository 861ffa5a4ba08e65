"""Rate limits: a moving window per API key and per client address.

Three budgets: ``key`` (each API key), ``addr`` (each client address on the
public pages) and ``unknown-key`` (each client address, counting API requests
whose key is unknown or revoked).

Storage is ``memory://`` in development and Redis in production
(``tracee.ratelimit.storage`` / ``REDIS_URL``), so limits hold across workers.
In Redis a request costs one small round trip: :data:`ONE_CALL`, sent over a
persistent socket (tracee.resp), counts the request, returns the window's
figures for the X-RateLimit headers and reads the cache epoch
(tracee.cache_epoch) that tells a worker whether what it remembers of keys
and trackers still holds. Memory storage counts with ``limits``' own moving
window, the same algorithm on the same list of timestamps, so both answer
alike; logins and mails (tracee.accounts.throttle) count there too.

If Redis cannot answer, requests are served uncounted (fail-open): the
limits protect the service, and an outage of the counter should not become
an outage of the API. Such answers carry no X-RateLimit headers, and
nothing is served from a worker's cache meanwhile (no epoch was read).
"""

import logging
import math
import re
import time
from dataclasses import dataclass

from limits import parse, parse_many, storage, strategies
from pyramid.httpexceptions import HTTPTooManyRequests

from tracee.cache_epoch import EPOCH_KEY, bump_after_commit, cache_epoch_for
from tracee.paths import first_segment
from tracee.proxies import TrustedProxies
from tracee.resp import PreparedCall, RedisUnavailable, RespClient, Script

log = logging.getLogger(__name__)

# KEYS[1] the window (a list of timestamps, newest first, as limits keeps it);
# KEYS[2] the cache epoch. ARGV: now, limit, expiry (seconds).
# Counts like limits' acquire_moving_window (refused when the limit-th newest
# entry is still inside the window), then finds the oldest entry inside the
# window as its moving_window does (a binary search), in one script: one
# EVALSHA instead of two. Returns {allowed, count, oldest, epoch}. An epoch
# Redis does not hold (first use, or data lost in a restart) starts from the
# time in microseconds, never from a number a worker may still hold.
ONE_CALL = Script("""
local now, limit, expiry = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local allowed = 0
local entry = redis.call('lindex', KEYS[1], limit - 1)
if not entry or tonumber(entry) < now - expiry then
  redis.call('lpush', KEYS[1], ARGV[1])
  redis.call('ltrim', KEYS[1], 0, limit - 1)
  redis.call('expire', KEYS[1], expiry)
  allowed = 1
end
local low, high, found, since = 0, redis.call('llen', KEYS[1]) - 1, -1, now - expiry
while low <= high do
  local mid = math.floor((low + high) / 2)
  if tonumber(redis.call('lindex', KEYS[1], mid)) >= since then
    found = mid
    low = mid + 1
  else
    high = mid - 1
  end
end
local oldest = ARGV[1]
if found >= 0 then oldest = redis.call('lindex', KEYS[1], found) end
local epoch = redis.call('get', KEYS[2])
if not epoch then
  epoch = string.format('%d', now * 1000000)
  redis.call('set', KEYS[2], epoch, 'NX')
end
return {allowed, found + 1, oldest, epoch}
""")
# ONE_CALL's reply, matched whole: two integers, then the oldest entry (a time
# as Python wrote it) and the epoch as bulk strings. Neither can hold a line
# break, so a match is the reply; anything else is parsed (tracee.resp).
ONE_CALL_REPLY = re.compile(
    rb"\*4\r\n:(\d+)\r\n:(\d+)\r\n\$\d+\r\n([0-9.eE+-]+)\r\n\$\d+\r\n(\d+)\r\n")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when a slot frees up
    epoch: int | None = None  # the cache epoch read with the count (tracee.cache_epoch)

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
        self.epoch = cache_epoch_for(self.storage)
        self.wire = (RespClient(storage_uri) if isinstance(self.storage, storage.RedisStorage)
                      else None)
        self._uncounted = False  # Redis did not answer the last call
        self.defaults = {
            "key": parse(api_default),
            "addr": parse(public_default),
            "unknown-key": parse(unknown_key_default),
        }
        self._parsed = {}
        # (namespace, identity, rate) -> (its call, amount, expiry); see _window
        self._windows: dict[tuple[str, str, str | None], tuple[PreparedCall, int, int]] = {}
        # (namespace, identity) -> epoch when a slot frees; see hit_remembering_refusal
        self._refusals: dict[tuple[str, str], float] = {}

    def _item(self, namespace: str, rate: str | None):
        if rate is None:
            return self.defaults[namespace]
        if rate not in self._parsed:
            self._parsed[rate] = parse(rate)
        return self._parsed[rate]

    def hit(self, namespace: str, identity: str, rate: str | None = None) -> Verdict | None:
        """Count one request; the verdict carries the figures for the headers and
        the cache epoch. None: Redis could not count it, and it is let through."""
        if self.wire is None:
            item = self._item(namespace, rate)
            allowed = self.strategy.hit(item, namespace, identity)
            stats = self.strategy.get_window_stats(item, namespace, identity)
            return Verdict(allowed, item.amount, stats.remaining, stats.reset_time,
                           self.epoch.current())
        call, amount, expiry = self._window(namespace, identity, rate)
        try:
            allowed, count, oldest, epoch = self.wire.run_prepared(call, time.time())
        except RedisUnavailable as exc:
            if not self._uncounted:  # once per outage, not once per request
                log.warning("requests are served uncounted: Redis did not answer (%s)", exc)
            self._uncounted = True
            return None
        if self._uncounted:
            self._uncounted = False
            log.warning("Redis answers again: requests are counted")
        # Bytes from ONE_CALL_REPLY, or integers and bytes from a parse: int() takes both.
        return Verdict(int(allowed) == 1, amount, amount - int(count), float(oldest) + expiry,
                       int(epoch))

    def _window(self, namespace: str, identity: str,
                rate: str | None) -> tuple[PreparedCall, int, int]:
        """The call counting one budget (its Redis key as ``limits`` names it,
        the limit and expiry; the time is added per request), limit and expiry.

        Worked out once per key or address and remembered: ``limits`` builds the
        key through five calls, the same every time for the same budget, and
        the command's bytes are the same but for the time.
        """
        window = self._windows.get((namespace, identity, rate))
        if window is None:
            item = self._item(namespace, rate)
            key, amount, expiry = (self.storage.prefixed_key(item.key_for(namespace, identity)),
                                   item.amount, item.get_expiry())
            window = (PreparedCall(ONE_CALL, [key, EPOCH_KEY], [None, amount, expiry],
                                   ONE_CALL_REPLY),
                      amount, expiry)
            if len(self._windows) >= self.MAX_REMEMBERED:
                self._windows.clear()  # bounded; worked out again on need
            self._windows[namespace, identity, rate] = window
        return window

    def allow(self, namespace: str, identity: str, rate: str | None = None) -> bool:
        """Count one request and only say whether it is within the limit."""
        verdict = self.hit(namespace, identity, rate)
        return verdict is None or verdict.allowed

    MAX_REMEMBERED = 10_000

    def hit_remembering_refusal(self, namespace: str, identity: str) -> Verdict | None:
        """``hit``, and if refused, remember in this worker until a slot frees.

        For budgets whose refusals must be cheap: while remembered,
        ``refused_until`` answers without asking the storage. Other workers
        learn of the refusal at their own next hit.
        """
        verdict = self.hit(namespace, identity)
        if verdict is not None and not verdict.allowed:
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
    # Revocations raise the epoch the limiter's round trip reads (tracee.cache_epoch).
    bump_after_commit(config.registry["db.session_factory"], limiter.epoch)
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
        # The same one call as the API's; pages show the figures only on a refusal.
        verdict = limiter.hit("addr", request.client_address)
        if verdict is not None and not verdict.allowed:
            return HTTPTooManyRequests(
                "Too many requests from your address; please wait a moment.",
                headers={"Retry-After": str(verdict.retry_after), **verdict.headers()},
            )
        return handler(request)

    return tween
