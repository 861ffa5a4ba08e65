"""Tables of the tracking domain. Every one is tenant-owned (see TenantScoped)."""

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from tracee.db import Base, UTCDateTime, utcnow
from tracee.tenancy.scope import TenantScoped

PENDING, IN_PROGRESS, COMPLETED = "pending", "in_progress", "completed"


class TrackerState:
    """What a tracker's own fields say about it, for Tracker and for the
    plain TrackerRecord (tracee.tracking.records) alike."""

    __slots__ = ()

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None

    def started_steps(self, visible_only: bool = False) -> list:
        return [
            s for s in self.steps if s.started_at is not None and (s.visible or not visible_only)
        ]

    def current_step(self, visible_only: bool = False):
        started = self.started_steps(visible_only)
        return started[-1] if started else None


class StepState:
    """A step's status from its times, for TrackerStep and StepRecord alike."""

    __slots__ = ()

    @property
    def status(self) -> str:
        if self.completed_at is not None:
            return COMPLETED
        if self.started_at is not None:
            return IN_PROGRESS
        return PENDING


class Tracker(TrackerState, TenantScoped, Base):
    """One customer order followed through the steps of a workflow."""

    __tablename__ = "trackers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_trackers_tenant_created", "tenant_id", "created_at"),
        Index("ix_trackers_tenant_step_due", "tenant_id", "step_due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    template_slug: Mapped[str | None] = mapped_column(String(63))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Derived from the steps, kept on the row so lists can filter on it.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    # A ready date the business set (or promised); None: estimated from the steps.
    ready_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the step under way (or next to start) should end: kept on the row,
    # like completed_at, so the "late" filter is a comparison (tracking.estimates).
    step_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Questions and replies so far: the page loads its conversation only when
    # there is one, and the next message takes the next number.
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    steps: Mapped[list["TrackerStep"]] = relationship(
        order_by="TrackerStep.position",
        cascade="all, delete-orphan",
        lazy="selectin",
        back_populates="tracker",
    )
    link: Mapped["TrackingLink"] = relationship(
        cascade="all, delete-orphan", lazy="joined", back_populates="tracker"
    )

    @property
    def tracking_token(self) -> uuid.UUID:
        return self.link.token


class TrackerOwned(TenantScoped):
    """Mixin for rows that belong to one tracker and go when it goes."""

    tracker_id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)

    @declared_attr.directive
    def __table_args__(cls):
        return (
            ForeignKeyConstraint(
                ["tenant_id", "tracker_id"],
                ["trackers.tenant_id", "trackers.id"],
                ondelete="CASCADE",
            ),
        )


class TrackerStep(StepState, TrackerOwned, Base):
    """A tracker's copy of a template step, with its own times."""

    __tablename__ = "tracker_steps"

    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expected_minutes: Mapped[int | None] = mapped_column(Integer)

    tracker: Mapped[Tracker] = relationship(back_populates="steps")


class TrackerEvent(TrackerOwned, Base):
    """The audit trail: who changed what, when. Source for webhooks."""

    __tablename__ = "tracker_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    process: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # On the event of the step a status update named ("start"/"complete"):
    # that event is the update's tracker.status_changed webhook.
    action: Mapped[str | None] = mapped_column(String(10))


NAME_SUFFIX_LENGTH = 12


class TrackerNameSuffix(TenantScoped, Base):
    """What the name search looks up on PostgreSQL: each suffix of a tracker's
    lowered name, cut to NAME_SUFFIX_LENGTH characters (see migration 0012).

    Written by a database trigger, never by the app (which also removes a
    tracker's rows when it goes); tenant data under forced row-level security
    like the rest. SQLite's table stays empty: the search scans there.
    """

    __tablename__ = "tracker_name_suffixes"

    # No foreign keys: they would check each of a name's ~30 rows on every create.
    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-2)
    # Byte order, so that "begins with" is one range of the key.
    suffix: Mapped[str] = mapped_column(
        String(NAME_SUFFIX_LENGTH).with_variant(
            String(NAME_SUFFIX_LENGTH, collation="C"), "postgresql"),
        primary_key=True, sort_order=-1,
    )
    tracker_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TrackingLink(Base):
    """The public address of a tracker: token -> (tenant, tracker).

    A directory table like ``tenants`` and ``api_keys``: customers arrive
    with nothing but the token, so it is read before the tenant is known,
    and it holds no tenant data beyond the mapping itself.
    """

    __tablename__ = "tracking_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "tracker_id"], ["trackers.tenant_id", "trackers.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "tracker_id"),
    )

    token: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(Integer)
    tracker_id: Mapped[int] = mapped_column(Integer)

    tracker: Mapped[Tracker] = relationship(back_populates="link")


class WorkflowTemplate(TenantScoped, Base):
    """A tenant's own workflow; built-in ones live in code (builtin_templates)."""

    __tablename__ = "workflow_templates"

    slug: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    steps: Mapped[list["TemplateStep"]] = relationship(
        order_by="TemplateStep.position", cascade="all, delete-orphan", lazy="selectin"
    )


class TemplateStep(TenantScoped, Base):
    __tablename__ = "template_steps"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "template_slug"],
            ["workflow_templates.tenant_id", "workflow_templates.slug"],
            ondelete="CASCADE",
        ),
    )

    template_slug: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    expected_minutes: Mapped[int | None] = mapped_column(Integer)
