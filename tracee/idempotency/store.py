"""Claiming a key, storing its answer, purging old keys: prebuilt Core statements.

Like tracee.tracking.writes, every statement takes the tenant from the
session's binding (``require_tenant``) and names it in SQL, and row-level
security applies to it as to any other.

Concurrency: the first request with a key holds it until its transaction
ends. On PostgreSQL that hold is a transaction-scoped advisory lock on a hash
of tenant and key, taken with ``pg_try_advisory_xact_lock``, so a second
request with the key is told at once (``KeyInUse``) instead of waiting; the
lock is released by the commit that makes the stored answer visible, so a
later retry finds it. On SQLite a write takes the database's one write lock,
so the first statement here is a write and a retry waits for the first
request's commit, then replays its answer.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, and_, bindparam, delete, func, insert, select

from tracee.db import utcnow
from tracee.idempotency.models import IdempotencyKey
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant, require_tenant

KEEP_SETTING = "tracee.idempotency.keep_hours"

_keys = IdempotencyKey.__table__
_OWN_KEY = and_(_keys.c.tenant_id == bindparam("owner_tenant"),
                _keys.c.key == bindparam("owner_key"))
_TRY_LOCK = select(func.pg_try_advisory_xact_lock(bindparam("lock", type_=BigInteger)))
_DROP_EXPIRED = delete(_keys).where(_OWN_KEY, _keys.c.created_at <= bindparam("cutoff"))
_STORED = select(
    _keys.c.fingerprint, _keys.c.status, _keys.c.content_type, _keys.c.location, _keys.c.body
).where(_OWN_KEY)
_INSERT = insert(_keys)
_PURGE = delete(_keys).where(_keys.c.tenant_id == bindparam("owner_tenant"),
                             _keys.c.created_at <= bindparam("cutoff"))
_TENANT_IDS = select(Tenant.id).order_by(Tenant.id)


class KeyInUse(Exception):
    """Another transaction holds the key: its request is still running."""


class KeyReused(Exception):
    """The key was used before for a different request."""


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    content_type: str | None
    location: str | None
    body: bytes


def keep_period(settings: dict) -> timedelta:
    """How long a key is kept (``tracee.idempotency.keep_hours``, default 24)."""
    raw = settings.get(KEEP_SETTING, "24")
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not (math.isfinite(hours) and hours > 0):
        raise ValueError(f"{KEEP_SETTING} must be a positive number of hours, not {raw!r}")
    return timedelta(hours=hours)


def _lock_id(tenant_id: int, key: str) -> int:
    """A signed 64-bit advisory lock id, namespaced so other locks cannot meet it."""
    digest = hashlib.sha256(f"tracee.idempotency\0{tenant_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def claim(session, key: str, fingerprint: str, now: datetime,
          keep: timedelta) -> StoredAnswer | None:
    """Hold ``key`` for this transaction: None if it is new (the caller then
    runs the request and calls :func:`remember`), the stored answer if the
    same request was done before. Raises KeyInUse or KeyReused otherwise."""
    tenant_id = require_tenant(session)
    params = {"owner_tenant": tenant_id, "owner_key": key, "cutoff": now - keep}
    connection = session.connection()
    if connection.dialect.name == "postgresql" and not connection.execute(
        _TRY_LOCK, {"lock": _lock_id(tenant_id, key)}
    ).scalar():
        raise KeyInUse(key)
    # An expired key counts as new. On SQLite this write is also the lock.
    connection.execute(_DROP_EXPIRED, params)
    row = connection.execute(_STORED, params).first()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise KeyReused(key)
    return StoredAnswer(row.status, row.content_type, row.location, row.body)


def remember(session, key: str, fingerprint: str, answer: StoredAnswer, now: datetime) -> None:
    """Store the answer to a claimed key, in the transaction of the change it reports."""
    session.connection().execute(_INSERT, {
        "tenant_id": require_tenant(session), "key": key, "fingerprint": fingerprint,
        "status": answer.status, "content_type": answer.content_type,
        "location": answer.location, "body": answer.body, "created_at": now,
    })


def purge_tenant(session, cutoff: datetime) -> int:
    """Delete the bound tenant's keys created at or before ``cutoff``; return how many."""
    params = {"owner_tenant": require_tenant(session), "cutoff": cutoff}
    return session.connection().execute(_PURGE, params).rowcount


def purge_expired(session_factory, keep: timedelta, now: datetime | None = None) -> int:
    """Delete every tenant's keys older than ``keep``; return how many.

    One transaction per tenant: row-level security shows a transaction one
    tenant's rows, and short transactions hold their locks briefly.
    """
    cutoff = (now or utcnow()) - keep
    with session_factory() as session:
        tenant_ids = session.scalars(_TENANT_IDS).all()
    purged = 0
    for tenant_id in tenant_ids:
        with session_factory() as session:
            bind_tenant(session, tenant_id)
            purged += purge_tenant(session, cutoff)
            session.commit()
    return purged
