"""Tokens that let a public page's form be sent, without a session.

Public pages never load a session, so a form there (email updates, a
question) carries its own proof that it came from this tracker's page,
recently: ``<issued at>.<HMAC-SHA256 of the form's purpose, the tracking
token and that time>``. A post without one, with one for another tracker or
another form, or older than the form's ``max_age`` is refused. The page
makes it without a query. It is not a secret from the page's reader (the
tracking link already is the capability) and not single-use (that would
need storage; the forms' rate limits bound what one token can do): it
stops forms posted from elsewhere, replayed days later, or made up by
scripts that never loaded a page.
"""

import base64
import hashlib
import hmac
import logging
import time

log = logging.getLogger(__name__)
CLOCK_SKEW = 60  # seconds a token may seem to come from the future (several servers)
# Used, with a warning, when neither tracee.secret nor a webhook key is set.
DEVELOPMENT_SECRET = b"tracee development form secret: set TRACEE_SECRET"


def app_secret(settings: dict) -> bytes:
    """The key that signs public forms: ``tracee.secret`` (``TRACEE_SECRET``);
    else one derived from the first webhook key (``TRACEE_WEBHOOK_KEYS``,
    which production sets), so a deployment has a real key without one more
    variable; else a fixed development key, with a warning, since anyone
    could then sign. Rotating either only expires forms already on screens."""
    own = str(settings.get("tracee.secret") or "").strip()
    if own:
        return own.encode()
    keys = str(settings.get("tracee.webhooks.secret_keys") or "").split()
    if keys:
        return hmac.new(keys[0].encode(), b"tracee form tokens", hashlib.sha256).digest()
    log.warning("neither tracee.secret (TRACEE_SECRET) nor tracee.webhooks.secret_keys is "
                "set: public forms are signed with the built-in development key")
    return DEVELOPMENT_SECRET


class FormTokens:
    """Tokens for one form (``purpose``: "subscribe", "ask"), valid ``max_age`` seconds."""

    def __init__(self, secret: bytes, purpose: str, max_age: int):
        self.secret, self.purpose, self.max_age = secret, purpose, max_age

    def _signature(self, tracking_token: str, issued: int) -> str:
        message = f"{self.purpose}\n{tracking_token}\n{issued}".encode()
        # The one-shot form: the page signs two forms on every view.
        digest = hmac.digest(self.secret, message, "sha256")
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, tracking_token, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        return f"{issued}.{self._signature(str(tracking_token), issued)}"

    def valid(self, tracking_token, value: str | None, now: float | None = None) -> bool:
        issued, _, signature = (value or "").partition(".")
        if not (issued.isascii() and issued.isdigit() and len(issued) <= 12 and signature):
            return False
        age = (time.time() if now is None else now) - int(issued)
        if not -CLOCK_SKEW <= age <= self.max_age:
            return False
        expected = self._signature(str(tracking_token), int(issued))
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
