"""Tables of customer mail.

``mail_subscriptions`` and ``customer_mail_days`` are tenant data (row-level
security, forced). ``customer_mail_jobs`` is the work queue, read across
tenants by workers like ``webhook_deliveries``: it holds ids, a kind, a
state and times, never an address or a token.
"""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracee.db import Base, UTCDateTime, utcnow
from tracee.tenancy.scope import TenantScoped
from tracee.tracking.models import TrackerOwned

CONFIRM, UPDATE = "confirm", "update"
PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
MAX_ADDRESS = 254  # RFC 5321's path limit, less the angle brackets
JobId = BigInteger().with_variant(Integer(), "sqlite")


class MailSubscription(TrackerOwned, Base):
    """One address that asked for a tracker's news; mailed only once confirmed."""

    __tablename__ = "mail_subscriptions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "tracker_id"], ["trackers.tenant_id", "trackers.id"], ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "tracker_id", "email"),
        UniqueConstraint("tenant_id", "tracker_id", "token"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(MAX_ADDRESS))
    # The page's language when the customer subscribed: the language of every mail.
    language: Mapped[str] = mapped_column(String(16), default="en")
    # Confirms and unsubscribes without a login: 256 random bits (secrets.token_urlsafe).
    token: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10))  # "page" or "api"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A digest of the visible progress the subscriber last heard of (or saw
    # when confirming): a change that leaves it as it was sends nothing.
    notified_state: Mapped[str | None] = mapped_column(String(64))
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerMailDay(TenantScoped, Base):
    """How many customer mails a tenant sent (and put off) on one UTC day: the daily cap."""

    __tablename__ = "customer_mail_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)


class CustomerMailJob(Base):
    """Mail to send for one tracker: a confirmation, or news for its subscribers.

    Queued by the trigger on ``tracker_events`` (news) or with the
    subscription (a confirmation), in the change's own transaction.
    """

    __tablename__ = "customer_mail_jobs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "tracker_id"], ["trackers.tenant_id", "trackers.id"], ondelete="CASCADE",
        ),
        # What the trigger asks for every step event: is news already waiting?
        Index("ix_customer_mail_jobs_tracker", "tenant_id", "tracker_id"),
        Index("ix_customer_mail_jobs_due", "next_attempt_at",
              postgresql_where=text("state = 'pending'"),
              sqlite_where=text("state = 'pending'")),
        Index("ix_customer_mail_jobs_finished", "finished_at"),
    )

    id: Mapped[int] = mapped_column(JobId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    tracker_id: Mapped[int] = mapped_column(Integer)
    subscription_id: Mapped[int | None] = mapped_column(Integer)  # confirmations only
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # Why it was put off, retried or given up: the record an operator reads.
    note: Mapped[str | None] = mapped_column(String(300))
