"""Asking, replying and reading a tracker's conversation; no HTTP here.

Every write raises the tracker's ``event_seq`` and ``message_count`` in one
UPDATE ... RETURNING (which also locks the row on PostgreSQL and takes the
write lock on SQLite, so numbers never collide), writes its event, and notes
the tracker as changed so the pages' poll sees the conversation move.
"""

from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update

from tracee.accounts.service import InvalidEmail, normalize_email
from tracee.db import utcnow
from tracee.messages.models import (
    EMAIL_MAX,
    NAME_MAX,
    QUESTION,
    REPLY,
    TEXT_MAX,
    MessageMail,
    TrackerMessage,
)
from tracee.tenancy.scope import require_tenant
from tracee.text import is_printable
from tracee.tracking.models import Tracker, TrackerEvent
from tracee.tracking.writes import CHANGED_TRACKERS

RECEIVED, REPLIED = "tracker.message_received", "message.replied"
CUSTOMER = "customer"  # the actor of a question's event: the page has no login
_trackers, _events = Tracker.__table__, TrackerEvent.__table__
_NEXT = (
    update(_trackers)
    .where(_trackers.c.tenant_id == bindparam("owner_tenant"),
           _trackers.c.id == bindparam("owner_tracker"))
    .values(event_seq=_trackers.c.event_seq + 1, message_count=_trackers.c.message_count + 1)
    .returning(_trackers.c.event_seq, _trackers.c.message_count)
)


def N_(text: str) -> str:
    """Marks a message for the catalogs (Babel extracts ``N_``); the page
    translates it as it shows it, so this layer knows no language."""
    return text


class MessageError(ValueError):
    """Input refused; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Question:
    name: str | None
    email: str | None
    text: str
    language: str = "en"  # the page's, so the answer's mail speaks it too


def _text_problem(text: str) -> str | None:
    if not text:
        return N_("Write your message.")
    if len(text) > TEXT_MAX:
        return N_("Keep your message to 2,000 characters.")
    # Line breaks and tabs are text; other control characters are not.
    if not is_printable(text.replace("\r\n", "\n").replace("\n", "").replace("\t", "")):
        return N_("Remove the control characters from your message.")
    return None


def clean_text(text: str) -> str:
    """A message's text, or MessageError naming the problem."""
    text = text.replace("\r\n", "\n").strip()
    problem = _text_problem(text)
    if problem:
        raise MessageError({"text": problem})
    return text


def clean_question(name: str, email: str, text: str) -> Question:
    """The form's values checked all at once, so every error shows beside its field.

    A line break in a name or address is refused, not trimmed: they are the
    values a mail's headers would carry.
    """
    errors = {}
    name, email = name.strip(), email.strip()
    if len(name) > NAME_MAX:
        errors["name"] = N_("Keep your name to 100 characters.")
    elif not is_printable(name):
        errors["name"] = N_("Your name must be on one line, without control characters.")
    if email:
        try:
            email = normalize_email(email)
        except InvalidEmail:
            errors["email"] = N_("Enter an email address like name@example.com, or leave it empty.")
        else:
            email = email[:EMAIL_MAX]
    text = text.replace("\r\n", "\n").strip()
    problem = _text_problem(text)
    if problem:
        errors["text"] = problem
    if errors:
        raise MessageError(errors)
    return Question(name or None, email or None, text)


def _next_numbers(session, tracker_id: int) -> tuple[int, int]:
    params = {"owner_tenant": require_tenant(session), "owner_tracker": tracker_id}
    return tuple(session.connection().execute(_NEXT, params).one())


def _write_event(session, tracker_id, seq, event_type, actor, now) -> None:
    session.connection().execute(insert(_events), {
        "tenant_id": require_tenant(session), "tracker_id": tracker_id, "seq": seq,
        "type": event_type, "process": None, "actor": actor, "created_at": now, "action": None,
    })


def _changed(session, token, seq) -> None:
    session.info.setdefault(CHANGED_TRACKERS, {})[str(token)] = seq


def ask(session, tracker_id: int, token, question: Question) -> TrackerMessage:
    """Store a customer's question with its ``tracker.message_received`` event."""
    now = utcnow()
    seq, number = _next_numbers(session, tracker_id)
    _write_event(session, tracker_id, seq, RECEIVED, CUSTOMER, now)
    message = TrackerMessage(
        tracker_id=tracker_id, id=number, kind=QUESTION, name=question.name,
        email=question.email, language=question.language, text=question.text, created_at=now,
        event_seq=seq)
    session.add(message)
    session.flush()
    _changed(session, token, seq)
    return message


def reply(session, tracker_id: int, token, text: str, author: str) -> TrackerMessage:
    """Answer the tracker's open questions; queue a mail to each address they gave.

    With no question open (a follow-up), the mail goes to the address of the
    latest question that gave one.
    """
    text = clean_text(text)
    now = utcnow()
    seq, number = _next_numbers(session, tracker_id)  # locks the tracker first
    questions = thread(session, tracker_id, kinds=(QUESTION,))
    _write_event(session, tracker_id, seq, REPLIED, author, now)
    message = TrackerMessage(tracker_id=tracker_id, id=number, kind=REPLY, text=text,
                             author=author, created_at=now, event_seq=seq)
    session.add(message)
    open_ = [q for q in questions if q.answered_at is None]
    for q in open_:
        q.answered_at, q.read_at = now, q.read_at or now
    # The latest question per address.
    by_address = {q.email: q for q in (open_ or questions[-1:]) if q.email}
    session.flush()
    for q in by_address.values():
        session.add(MessageMail(tenant_id=require_tenant(session), tracker_id=tracker_id,
                                reply_id=number, question_id=q.id, created_at=now,
                                next_attempt_at=now))
    session.flush()
    _changed(session, token, seq)
    return message


def thread(session, tracker_id: int, kinds=(QUESTION, REPLY)) -> list[TrackerMessage]:
    """The tracker's messages, oldest first."""
    return list(session.scalars(
        select(TrackerMessage)
        .where(TrackerMessage.tracker_id == tracker_id, TrackerMessage.kind.in_(kinds))
        .order_by(TrackerMessage.id)
    ))


def mark_read(session, messages: list[TrackerMessage]) -> None:
    now = utcnow()
    for m in messages:
        if m.kind == QUESTION and m.read_at is None:
            m.read_at = now


@dataclass(frozen=True)
class InboxRow:
    message: TrackerMessage
    tracker_number: int
    tracker_name: str


INBOX_STATES = ("all", "unread", "open", "answered")


def inbox(session, state: str, page: int, per_page: int) -> tuple[int, list[InboxRow]]:
    """The bound tenant's questions, newest first, and how many match."""
    where = [TrackerMessage.kind == QUESTION]
    if state == "unread":
        where.append(TrackerMessage.read_at.is_(None))
    elif state == "open":
        where.append(TrackerMessage.answered_at.is_(None))
    elif state == "answered":
        where.append(TrackerMessage.answered_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(TrackerMessage).where(*where))
    rows = session.execute(
        select(TrackerMessage, Tracker.number, Tracker.name)
        .join(Tracker, (Tracker.tenant_id == TrackerMessage.tenant_id)
              & (Tracker.id == TrackerMessage.tracker_id))
        .where(*where)
        .order_by(TrackerMessage.created_at.desc(), TrackerMessage.tracker_id.desc(),
                  TrackerMessage.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return total, [InboxRow(*row) for row in rows]

