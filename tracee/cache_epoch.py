"""The cache epoch: one counter that says whether a worker's memory of keys and trackers holds.

Workers remember active API keys (tracee.api.keys.KeyCache) and which
tracker a tenant's id names (tracee.api.v1.qr). Anything that would make
such an entry wrong (a key revoked, a tracker's link changed) marks its
session with :func:`invalidate_on_commit`; once that transaction has
committed, the epoch goes up by one. Every API request reads the epoch in
the rate limiter's one Redis round trip (tracee.ratelimit.ONE_CALL), and a
worker that sees a number other than the one its entries were read under
drops them all: the very next request after a revocation looks the key up
again, in every worker.

The bump comes after the commit: bumped before, a worker could read the
row again in between, still unrevoked, and keep it under the new epoch.
With memory storage (development, one process) the epoch is this process's.
"""

import itertools
import logging
import time

from limits.storage import RedisStorage
from sqlalchemy import event

EPOCH_KEY = "tracee:cache-epoch"
_STALE = "tracee.cache_epoch.stale"
log = logging.getLogger(__name__)


class MemoryEpoch:
    def __init__(self):
        self._counter = itertools.count(1)
        self._value = 0

    def current(self) -> int:
        return self._value

    def bump(self) -> None:
        self._value = next(self._counter)


class RedisEpoch:
    def __init__(self, redis):
        self._redis = redis

    def bump(self) -> None:
        # Started from the time, as the limiter's script starts it: never a
        # number a worker held before Redis lost its data.
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(EPOCH_KEY, int(time.time() * 1_000_000), nx=True)
        pipe.incr(EPOCH_KEY)
        pipe.execute()


def cache_epoch_for(limiter_storage):
    if isinstance(limiter_storage, RedisStorage):
        return RedisEpoch(limiter_storage.get_connection())
    return MemoryEpoch()


def invalidate_on_commit(session) -> None:
    """Have workers drop what they remember once this session's transaction commits."""
    session.info[_STALE] = True


def bump_after_commit(session_factory, epoch) -> None:
    """Bump ``epoch`` after each commit of a session from ``session_factory`` that asked."""

    def after_commit(session):
        if session.info.pop(_STALE, False):
            try:
                epoch.bump()
            except Exception:  # committed: failing now would say it was not
                # Workers then keep cached entries until they expire
                # (tracee.api.key_cache_seconds); with Redis down for them as
                # well they cache nothing and look every key up.
                log.error("could not raise the cache epoch after a revocation", exc_info=True)

    def after_rollback(session):
        session.info.pop(_STALE, None)

    event.listen(session_factory, "after_commit", after_commit)
    event.listen(session_factory, "after_rollback", after_rollback)


class EpochCache:
    """What this worker read lately (keys, trackers), kept while the epoch holds.

    :meth:`confirm` is given the epoch each request reads with its rate-limit
    count and drops every entry when it has moved. An entry must be kept
    under an epoch read *before* its row was: then a row read just before a
    revocation is dropped by the round trip that follows. With no epoch known
    (Redis did not answer) nothing is kept or served. Entries also expire
    after ``seconds`` (0 turns the cache off; ``tracee.api.key_cache_seconds``).
    """

    def __init__(self, seconds: float, max_entries: int = 10_000, clock=time.monotonic):
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        # The epoch entries are kept under; None: unknown, nothing kept. It starts
        # at the memory epoch's first value; a Redis epoch never has it (see
        # tracee.ratelimit.ONE_CALL), so there the first request starts afresh.
        self.epoch: int | None = 0
        self._entries: dict = {}

    def get(self, key):
        if self.epoch is None:
            return None
        expires, value = self._entries.get(key, (0.0, None))
        if value is not None and expires <= self.clock():
            del self._entries[key]
            return None
        return value

    def put(self, key, value) -> None:
        if self.seconds <= 0 or self.epoch is None:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; refilled within one window
        self._entries[key] = (self.clock() + self.seconds, value)

    def confirm(self, epoch: int | None) -> bool:
        """Whether the entries still hold under ``epoch`` (read with this request's
        count); if not, they are dropped and ``epoch`` is the one to keep under."""
        if epoch is not None and epoch == self.epoch:
            return True
        self._entries.clear()
        self.epoch = epoch
        return False
