"""API keys: ``tk_live_`` + 32 random base62 characters + a 6-character checksum.

Only a SHA-256 of the key is stored (the key carries 190 random bits, so a
slow hash would add latency without adding safety). The checksum lets us
reject mistyped or made-up keys without a database round trip.
"""

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, bindparam, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, object_session

from tracee.cache_epoch import EpochCache, invalidate_on_commit
from tracee.db import Base, UTCDateTime, utcnow
from tracee.tenancy.scope import read_directory_row, rls_tenant_of
from tracee.text import is_printable

PREFIX = "tk_live_"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_BODY = re.compile(f"[0-9A-Za-z]{{{BODY_LENGTH}}}")
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
    # One regex match, not a generator over 32 characters: it runs on every API request.
    return (_BASE62_BODY.fullmatch(body) is not None
            and secrets.compare_digest(_checksum(body), checksum))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


NAME_MAX_LENGTH = 100


class KeyNameInvalid(ValueError):
    pass


def check_key_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH or not is_printable(name):
        raise KeyNameInvalid(f"key name must be 1 to {NAME_MAX_LENGTH} printable characters")
    return name


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


# api_keys is a directory table (no ORM tenant scope), so every query a
# tenant's own screens make names the tenant here, and nowhere else.


def tenant_keys(session, tenant_id: int) -> list[ApiKey]:
    return list(session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
    ))


def find_tenant_key(session, tenant_id: int, ident: str | int) -> ApiKey | None:
    """One of the tenant's keys, by id or by the full key."""
    query = select(ApiKey).where(ApiKey.tenant_id == tenant_id)
    if isinstance(ident, int) or (ident.isascii() and ident.isdigit()):
        if int(ident) > 2**31 - 1:
            return None
        query = query.where(ApiKey.id == int(ident))
    else:
        query = query.where(ApiKey.key_hash == hash_key(ident.strip()))
    return session.scalar(query)


def revoke_key(key: ApiKey) -> bool:
    """Revoke at once (workers forget the key as the transaction commits); False
    if it already was."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    invalidate_on_commit(object_session(key))
    return True


@dataclass
class ActiveKey:
    """What a request needs of its key; small enough to keep in memory for a few seconds."""

    id: int
    tenant_id: int
    rate_limit: str | None
    last_used_at: datetime | None


class KeyCache(EpochCache):
    """Active keys read lately, by hash, in this process, while the cache epoch holds.

    It saves the key lookup on most API requests, and revocation still acts
    at once (see :class:`~tracee.cache_epoch.EpochCache`). Only active keys
    are kept, so an invalid or revoked key is looked up every time.
    """


# Core statements, built once: they run on most API requests, and api_keys is
# a directory table, so there is no tenant scope for the ORM to add.
_api_keys = ApiKey.__table__
_ACTIVE_KEY = select(
    _api_keys.c.id, _api_keys.c.tenant_id, _api_keys.c.rate_limit, _api_keys.c.last_used_at,
    rls_tenant_of(_api_keys.c.tenant_id),
).where(_api_keys.c.key_hash == bindparam("key_hash"), _api_keys.c.revoked_at.is_(None))
# Only if no worker wrote it within the resolution: workers remember keys
# separately, and the column is written at most once a minute per key.
_TOUCH = (
    update(_api_keys)
    .where(_api_keys.c.id == bindparam("key_id"),
           or_(_api_keys.c.last_used_at.is_(None),
               _api_keys.c.last_used_at <= bindparam("stale_before")))
    .values(last_used_at=bindparam("now"))
)


def cached_key(secret: str, cache: KeyCache) -> tuple[str, ActiveKey | None]:
    """The key's hash, and the active key if this worker remembers it: to be
    trusted only once ``cache.confirm`` has accepted the request's epoch.

    Only keys that passed :func:`is_well_formed` are remembered, so a caller
    checks that on a miss, before the lookup.
    """
    key_hash = hash_key(secret)
    return key_hash, cache.get(key_hash)


def lookup_key(session, key_hash: str, cache: KeyCache) -> ActiveKey | None:
    """The active key with this hash, from the database; kept in ``cache``."""
    row = read_directory_row(session, _ACTIVE_KEY, {"key_hash": key_hash})
    if row is None:
        return None
    key = ActiveKey(*row[:4])
    cache.put(key_hash, key)
    return key


def touch_due(key: ActiveKey, now: datetime | None = None) -> bool:
    """Whether this worker should record the key's use now (see :func:`touch`)."""
    return key.last_used_at is None or (now or utcnow()) - key.last_used_at >= LAST_USED_RESOLUTION


def touch(session, key: ActiveKey) -> None:
    """Record the use, at most once per LAST_USED_RESOLUTION per key (each worker
    asks at most that often; the statement writes only if no other did)."""
    now = utcnow()
    if touch_due(key, now):
        session.connection().execute(
            _TOUCH, {"key_id": key.id, "now": now, "stale_before": now - LAST_USED_RESOLUTION})
        key.last_used_at = now
