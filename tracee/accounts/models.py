"""Users (a platform table) and memberships (tenant data: a role in one tenant)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
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
    # Two-factor (TOTP): the shared secret, sealed (tracee.accounts.two_factor),
    # kept while enrolling and after; on once ``totp_enabled_at`` is set.
    # ``totp_last_step`` refuses a code that was used already (a replay
    # within its 30 seconds).
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

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
    """A single-use link sent by mail: confirm an address, set a new password, or
    move the account to a new address.

    Stored as a SHA-256, like session tokens and API keys.
    """

    __tablename__ = "user_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    # For a change of address: the new one, set when its link is used.
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invitation(TenantScoped, Base):
    """An email invited to a tenant with a role, until accepted, revoked or expired.

    Tenant data: the link names the tenant (``/invitations/<slug>/<token>``), so
    it is found with the tenant bound, under the same RLS policy as the rest.
    Only a SHA-256 of the token is kept, like the other mailed links.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(10))
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """One of a user's single-use two-factor recovery codes, as a SHA-256
    (the codes carry 80 random bits, so a fast hash is enough)."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
