"""Tenants: the businesses (and agencies) that own everything else."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracee.db import Base, UTCDateTime, utcnow


class Tenant(Base):
    """A business. ``parent`` is the agency that manages it, if any.

    This is a platform table (no ``tenant_id`` of its own): it is how
    requests find their tenant, so it is read before any tenant is known.
    """

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Indexed: an agency's clients are found by it, and so is whether a tenant
    # has any (on every dashboard page of an agency), and deleting a tenant
    # checks it has none.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), index=True)
    domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    brand_color: Mapped[str | None] = mapped_column(String(7))
    # Per-tenant id counters: ids are allocated inside the tenant, so no
    # global sequence is needed when tables are distributed by tenant_id.
    tracker_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A new random stamp at every change to the tenant's theme or page templates
    # (0: never themed); read with the tenant chain, it tells each worker's caches
    # when they are stale.
    branding_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A custom domain waiting for its TXT record; ``domain`` is the verified one.
    pending_domain: Mapped[str | None] = mapped_column(String(253))
    domain_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by an owner: members without two-factor are sent to enrol first.
    require_two_factor: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false())

    parent: Mapped["Tenant | None"] = relationship(remote_side=[id], lazy="raise")

    def __repr__(self):
        return f"<Tenant {self.slug}>"
