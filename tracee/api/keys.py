"""API keys: ``tk_live_`` + 32 random base62 characters + a 6-character checksum.

Only a SHA-256 of the key is stored (the key carries 190 random bits, so a
slow hash would add latency without adding safety). The checksum lets us
reject mistyped or made-up keys without a database round trip.
"""

import hashlib
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from tracee.db import Base, UTCDateTime, utcnow

PREFIX = "tk_live_"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# last_used_at is advisory; writing it on every call would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKey(Base):
    """A tenant's key. A directory table: it is how a request finds its tenant."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    rate_limit: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def masked(self) -> str:
        return f"{self.display_prefix}...{self.last4}"


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate_key() -> str:
    body = "".join(secrets.choice(BASE62) for _ in range(BODY_LENGTH))
    return PREFIX + body + _checksum(body)


def is_well_formed(key: str) -> bool:
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    body, checksum = key[len(PREFIX) : -CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
    return all(c in BASE62 for c in body) and secrets.compare_digest(_checksum(body), checksum)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    secret: str  # shown once, never stored


def issue_key(session, tenant_id: int, name: str, rate_limit: str | None = None) -> IssuedKey:
    secret = generate_key()
    record = ApiKey(
        tenant_id=tenant_id,
        name=name,
        key_hash=hash_key(secret),
        display_prefix=secret[: len(PREFIX) + 4],
        last4=secret[-4:],
        rate_limit=rate_limit,
    )
    session.add(record)
    session.flush()
    return IssuedKey(record, secret)


def find_active_key(session, secret: str) -> ApiKey | None:
    if not is_well_formed(secret):
        return None
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
    )


def touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
