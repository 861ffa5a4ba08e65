"""The token that lets the public subscription form be sent, without a session.

``<issued>.<mac>``: the Unix time the page was served, and an HMAC-SHA256
(key: ``tracee.secret``, see config.py) of that time and the tracker's
tracking token. So a token works for one tracker only, for
``tracee.customer_mail.form_seconds`` after the page was served, and cannot
be made without the secret; the page computes it without a query. It is not
single-use (that would need storage): the per-address and per-tracker rate
limits bound what one token can do.
"""

import base64
import hashlib
import hmac
import time

CLOCK_SKEW = 60  # seconds a token may seem to come from the future (several servers)


def _mac(secret: bytes, tracking_token, issued: int) -> str:
    digest = hmac.new(secret, f"subscribe:{tracking_token}:{issued}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make(secret: bytes, tracking_token, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(secret, tracking_token, issued)}"


def is_valid(secret: bytes, tracking_token, token: str, max_age: int,
             now: float | None = None) -> bool:
    issued, _, mac = (token or "").partition(".")
    if not issued.isdigit() or len(issued) > 12 or not mac:
        return False
    now = time.time() if now is None else now
    if not -CLOCK_SKEW <= now - int(issued) <= max_age:
        return False
    return hmac.compare_digest(mac, _mac(secret, tracking_token, int(issued)))
