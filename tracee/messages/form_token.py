"""The token that lets the tracking page's question form be sent, without a session.

Public pages never load a session, so the form carries its own proof that
it came from this tracker's page, recently: ``<issued at>.<HMAC-SHA256 of
"ask", the tracking token and that time under the app's form secret>``.
A post without one, with one for another tracker, or older than
``max_age`` is refused. It is not a secret from the page's reader (the
tracking link already is the capability): it stops forms posted from
elsewhere, replayed later, or made up by scripts that never loaded a page.
"""

import base64
import hashlib
import hmac
import logging
import time

log = logging.getLogger(__name__)
# Used, with a warning, when neither TRACEE_FORM_SECRET nor a webhook key is set.
DEVELOPMENT_SECRET = b"tracee development form secret: set TRACEE_FORM_SECRET"


class FormTokens:
    def __init__(self, secret: bytes, max_age: int):
        self.secret, self.max_age = secret, max_age

    def _signature(self, tracking_token: str, issued: int) -> str:
        mac = hmac.new(self.secret, f"ask\n{tracking_token}\n{issued}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")

    def issue(self, tracking_token, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        return f"{issued}.{self._signature(str(tracking_token), issued)}"

    def valid(self, tracking_token, value: str, now: float | None = None) -> bool:
        issued, _, signature = value.partition(".")
        if not (issued.isascii() and issued.isdigit() and len(issued) <= 12):
            return False
        age = (time.time() if now is None else now) - int(issued)
        if not -60 <= age <= self.max_age:  # a minute's grace for clocks between workers
            return False
        expected = self._signature(str(tracking_token), int(issued))
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def form_secret(settings: dict) -> bytes:
    """``tracee.messages.form_secret`` (TRACEE_FORM_SECRET); else one derived
    from the first webhook key, which production sets; else a fixed
    development secret, with a warning, since anyone could then sign."""
    explicit = settings.get("tracee.messages.form_secret")
    if explicit:
        return explicit.encode()
    keys = str(settings.get("tracee.webhooks.secret_keys", "")).split()
    if keys:
        return hmac.new(keys[0].encode(), b"tracee form tokens", hashlib.sha256).digest()
    log.warning("neither TRACEE_FORM_SECRET nor TRACEE_WEBHOOK_KEYS is set: the tracking "
                "page's question form is signed with the built-in development secret")
    return DEVELOPMENT_SECRET
