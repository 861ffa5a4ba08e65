"""Attempts that guess (logins) or send mail (password resets, sign-ups),
counted with ``limits`` per account and per client address.

Only what ``failed`` is told counts, so for logins a person who types their
password right is never held up by others' attempts from their address. The
storage is the API limiter's: memory in development, Redis in production.
"""

import math
import time

from limits import parse


class Throttle:
    def __init__(self, limiter, rate: str, name: str):
        self.strategy = limiter.strategy
        self.item = parse(rate)
        self.name = name

    def _keys(self, email: str, address: str):
        keys = [(f"{self.name}-address", address)]
        if email:
            keys.append((f"{self.name}-account", email.strip().lower()[:254]))
        return keys

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        wait = 0.0
        for namespace, identity in self._keys(email, address):
            if not self.strategy.test(self.item, namespace, identity):
                stats = self.strategy.get_window_stats(self.item, namespace, identity)
                wait = max(wait, stats.reset_time - time.time(), 1)
        return math.ceil(wait)

    def failed(self, email: str, address: str) -> None:
        for namespace, identity in self._keys(email, address):
            self.strategy.hit(self.item, namespace, identity)
