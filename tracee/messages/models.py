"""The messages of a tracker's conversation, and the queue of reply mails."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracee.db import Base, UTCDateTime, utcnow
from tracee.tracking.models import TrackerOwned

QUESTION, REPLY = "question", "reply"
NAME_MAX, EMAIL_MAX, TEXT_MAX = 100, 254, 2000
# SQLite only autoincrements an INTEGER PRIMARY KEY.
MailId = BigInteger().with_variant(Integer(), "sqlite")


class TrackerMessage(TrackerOwned, Base):
    """One message on a tracker: a customer's question or a staff reply.

    ``id`` counts within the tracker (1, 2, ...), taken from the tracker's
    ``message_count`` under its row lock, so the key needs no sequence.
    """

    __tablename__ = "tracker_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    language: Mapped[str | None] = mapped_column(String(8))  # a question's page, for the reply mail
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(100))  # who replied (staff)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_seq: Mapped[int] = mapped_column(Integer)  # the tracker event it wrote


# The inbox: a tenant's questions, newest first.
Index("ix_tracker_messages_inbox", TrackerMessage.tenant_id, TrackerMessage.kind,
      TrackerMessage.created_at)


class MessageMail(Base):
    """A reply to mail to the address of one question: the worker's queue.

    Like ``webhook_deliveries`` it is read across tenants by the worker, so
    it holds no personal data: the address is read from the question, in
    the question's tenant, when the mail is sent.
    """

    __tablename__ = "message_mails"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "tracker_id", "reply_id"],
            ["tracker_messages.tenant_id", "tracker_messages.tracker_id", "tracker_messages.id"],
            ondelete="CASCADE",
        ),
        Index("ix_message_mails_due", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(MailId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    tracker_id: Mapped[int] = mapped_column(Integer)
    reply_id: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
