"""Failed logins, counted per account and per client address with ``limits``.

Only failures count, so a person who types their password right is never
held up by others' attempts on their address, and the limiter's storage
(memory in development, Redis in production) is the API's.
"""

import math
import time

from limits import parse


class LoginThrottle:
    def __init__(self, limiter, rate: str):
        self.strategy = limiter.strategy
        self.item = parse(rate)

    def _keys(self, email: str, address: str):
        return (("login-account", email.strip().lower()[:254]), ("login-address", address))

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
