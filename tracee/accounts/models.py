"""Users (a platform table) and memberships (tenant data: a role in one tenant)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tracee.db import Base, UTCDateTime, utcnow
from tracee.tenancy.scope import TenantScoped

OWNER, ADMIN, STAFF, VIEWER = "owner", "admin", "staff", "viewer"
ROLES = (OWNER, ADMIN, STAFF, VIEWER)


class User(Base):
    """One person. A platform table: a person may belong to several tenants.

    ``email`` is stored lower-cased, so its unique constraint is
    case-insensitive on every database. ``password_hash`` is empty until the
    person sets a password.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<User {self.email}>"


class Membership(TenantScoped, Base):
    """A user's role in one tenant; on an agency it reaches every client below."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role"),
        Index("ix_memberships_user_id", "user_id"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Base):
    """A logged-in browser, when sessions live in the database (development, tests).

    Only a SHA-256 of the cookie's token is stored, like API keys: a copy of
    this table lets no one in.
    """

    __tablename__ = "user_sessions"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserToken(Base):
    """A single-use link sent by mail: confirm an address, or set a new password.

    Stored as a SHA-256, like session tokens and API keys.
    """

    __tablename__ = "user_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
