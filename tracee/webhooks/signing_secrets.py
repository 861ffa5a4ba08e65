"""Signing secrets: made, shown once, stored encrypted.

A signing secret, unlike an API key, must be read back to sign, so it
cannot be stored as a hash. It is encrypted at rest (Fernet: AES-128-CBC
with HMAC-SHA256) under the keys in ``tracee.webhooks.secret_keys`` (the
``TRACEE_WEBHOOK_KEYS`` environment variable), the first encrypting and
all of them decrypting, so the key can be rotated. A copy of the database
alone then yields no secret. The same box seals the other secrets kept to
be read back: two-factor secrets and stored answers that show a secret.
"""

import base64
import functools
import logging
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64
# Used only when no key is configured (development, tests); says so at start.
DEVELOPMENT_KEY = "dHJhY2VlLWRldmVsb3BtZW50LW9ubHktd2ViaG9va3M="

log = logging.getLogger(__name__)


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret[len(PREFIX):])


class SecretBox:
    def __init__(self, keys: tuple[str, ...]):
        if not keys:
            log.warning("tracee.webhooks.secret_keys is not set: webhook secrets are "
                        "encrypted with the built-in development key (set TRACEE_WEBHOOK_KEYS)")
            keys = (DEVELOPMENT_KEY,)
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError as exc:
            raise ValueError(f"tracee.webhooks.secret_keys: {exc}") from None
        self._opened = functools.lru_cache(maxsize=4096)(self.open)

    def open_cached(self, sealed: str) -> str:
        """``open``, remembered: the worker signs with the same secrets all day.
        Keyed by the sealed text, so a rotated secret (sealed anew) is never
        served stale."""
        return self._opened(sealed)

    def seal(self, secret: str) -> str:
        return self.seal_bytes(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        return self.open_bytes(sealed.encode()).decode()

    def seal_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open_bytes(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise ValueError("a secret was sealed with a key no longer configured") \
                from None
