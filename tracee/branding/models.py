"""A tenant's own theme values and its page templates (every published version)."""

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tracee.db import Base, UTCDateTime, utcnow
from tracee.tenancy.scope import TenantScoped


class TenantTheme(TenantScoped, Base):
    """The values a tenant set itself, as JSON; what it leaves out it inherits."""

    __tablename__ = "tenant_themes"

    settings: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PageTemplate(TenantScoped, Base):
    """One published version of a tenant's tracking or embed template.

    Append-only: publishing, restoring and going back to the default each add
    a version, and the newest one is in force; ``source`` None means "no
    template of its own" (the agency's, else the built-in page).
    """

    __tablename__ = "page_templates"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str | None] = mapped_column(Text)
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who: an Actor's label, as trackers' audit trail keeps it (None: not recorded).
    published_by: Mapped[str | None] = mapped_column(String(100))
    # The last failure to render this version on a customer's page, for its author.
    render_error: Mapped[str | None] = mapped_column(String(500))
    render_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TenantAsset(TenantScoped, Base):
    """An image a tenant uploaded (logo, favicon), as re-encoded: kept by content hash."""

    __tablename__ = "tenant_assets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssetLink(Base):
    """Directory: which tenant holds an asset, for its public address (which names
    no tenant). Like tracking_links, readable before a tenant is bound."""

    __tablename__ = "asset_links"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "sha256"],
                             ["tenant_assets.tenant_id", "tenant_assets.sha256"],
                             ondelete="CASCADE"),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
