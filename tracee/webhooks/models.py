"""Tables of webhooks: endpoints and attempts are tenant data (row-level
security); deliveries are the work queue, read across tenants by workers.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracee.db import Base, UTCDateTime, utcnow
from tracee.tenancy.scope import TenantScoped

TRACKER_EVENTS = ("tracker.created", "tracker.status_changed", "tracker.completed",
                  "tracker.message_received")
TEST_EVENT = "webhook.test"
PENDING, DELIVERED, FAILED, PAUSED = "pending", "delivered", "failed", "paused"
# SQLite only autoincrements an INTEGER PRIMARY KEY.
DeliveryId = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEndpoint(TenantScoped, Base):
    """Where a tenant wants its events, and the secrets that sign them.

    The secrets are stored encrypted (tracee.webhooks.secrets): unlike an
    API key, which is only ever compared, a signing secret must be read
    back to sign.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    # Space-separated event types; the queueing trigger matches on it.
    events: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the first failure after a success, cleared by the next success.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # Disabled by the worker and the owners not yet told: what the mail step reads.
    owners_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def event_list(self) -> list[str]:
        return self.events.split()


class WebhookDelivery(Base):
    """One event queued for one endpoint: the work queue.

    Not behind row-level security, on purpose: workers claim due rows of
    every tenant in one statement before any tenant is known, like the
    directory tables. It holds ids, an event type, a state and times; the
    URL, the secrets, the payload and every response stay in tenant tables.
    Every read of it names the tenant (tracee.webhooks.delivery).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        # Per (endpoint, tracker) order, and one delivery per (endpoint, event).
        Index("uq_webhook_deliveries_event", "tenant_id", "endpoint_id", "tracker_id", "seq",
              unique=True),
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("state = 'pending'"),
              sqlite_where=text("state = 'pending'")),
        Index("ix_webhook_deliveries_finished", "finished_at"),
    )

    id: Mapped[int] = mapped_column(DeliveryId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(Integer)
    # The tracker event (tracker_events.tracker_id, seq); NULL for test events.
    tracker_id: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker's lease: past claimed_until, another worker may take it.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # A retry asked for by hand: one attempt, then failed again if it fails.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookAttempt(TenantScoped, Base):
    """One try of a delivery, as the delivery log shows it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        # Purging a finished delivery from the queue takes its attempts along.
        ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"], ondelete="CASCADE"),
        Index("ix_webhook_attempts_endpoint", "tenant_id", "endpoint_id", "attempted_at"),
    )

    delivery_id: Mapped[int] = mapped_column(DeliveryId, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(40))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    response_body: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
