"""The stored answers of requests sent with an ``Idempotency-Key``."""

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tracee.db import Base, UTCDateTime
from tracee.tenancy.scope import TenantScoped


class IdempotencyKey(TenantScoped, Base):
    """One key of one tenant: what the request was (a fingerprint) and what it got.

    Written in the transaction of the change it answers, so the two are
    committed, or lost, together.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_tenant_created", "tenant_id", "created_at"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(2000))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
