"""Reply mails, sent by ``tracee worker`` from the ``message_mails`` queue.

A reply queues one row per address (tracee.messages.service.reply) in its
own transaction; the worker claims due rows like webhook deliveries do (one
UPDATE ... RETURNING over a SKIP LOCKED subquery, with a lease that expires
if the worker dies), reads the address and texts in the row's tenant, sends,
and marks the row sent, or due again later, or failed after the last retry.
The queue holds ids only; addresses stay in the tenant's rows.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from markupsafe import escape
from sqlalchemy import bindparam, delete, select, update

from tracee.db import utcnow
from tracee.i18n import language as i18n_language
from tracee.i18n import translations
from tracee.mail import Mail, MailError
from tracee.messages.models import MessageMail, TrackerMessage
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant
from tracee.tracking.reads import read_tracker

log = logging.getLogger(__name__)
PENDING, SENT, FAILED = "pending", "sent", "failed"
LEASE = timedelta(minutes=2)  # a send is bounded by the mailer's timeout, far below this
_mails = MessageMail.__table__
_DUE = (
    select(_mails.c.id)
    .where(_mails.c.state == PENDING, _mails.c.next_attempt_at <= bindparam("now"),
           _mails.c.claimed_until.is_(None) | (_mails.c.claimed_until < bindparam("now")))
    .order_by(_mails.c.next_attempt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(_mails)
    .where(_mails.c.id.in_(_DUE.scalar_subquery()))
    .values(claimed_until=bindparam("until"), claim_token=bindparam("token"))
    .returning(_mails.c.id, _mails.c.tenant_id, _mails.c.tracker_id, _mails.c.reply_id,
               _mails.c.question_id, _mails.c.attempts, _mails.c.claim_token)
)
_MINE = (_mails.c.id == bindparam("mail")) & (_mails.c.claim_token == bindparam("token"))
# Read before claiming: on SQLite even an UPDATE that matches nothing takes the
# write lock, and the worker asks every turn of its loop.
_ANY_DUE = select(_mails.c.id).where(
    _mails.c.state == PENDING, _mails.c.next_attempt_at <= bindparam("now")).limit(1)


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    tracker_id: int
    reply_id: int
    question_id: int
    attempts: int
    token: str


class ReplyMails:
    def __init__(self, settings: dict):
        delays = settings.get("tracee.messages.mail_retry_delays", "60 300 1800 7200")
        self.retry_delays = [float(d) for d in str(delays).split()]

    def run_once(self, engine, sessions, mailer, urls, limit: int = 20) -> int:
        """Send the due reply mails; how many were claimed."""
        now = utcnow()
        with engine.connect() as connection:
            if connection.execute(_ANY_DUE, {"now": now}).first() is None:
                return 0
        with engine.begin() as connection:
            claimed = [Claimed(*row) for row in connection.execute(_CLAIM, {
                "now": now, "limit": limit, "until": now + LEASE,
                "token": secrets.token_hex(16)})]
        for item in claimed:
            try:
                self._send(engine, sessions, mailer, urls, item)
            except Exception:
                log.exception("reply mail %s failed; it is retried once its claim expires",
                              item.id)
        return len(claimed)

    def _send(self, engine, sessions, mailer, urls, item: Claimed) -> None:
        with sessions() as session:
            bind_tenant(session, item.tenant_id)
            mail = reply_mail(session, urls, item)
            session.rollback()  # only read; no transaction stays open while sending
        if mail is None:  # the tracker or the question is gone
            self._finish(engine, item, state=FAILED, finished_at=utcnow())
            return
        try:
            mailer.send(mail)
        except MailError as exc:
            attempts = item.attempts + 1
            if attempts > len(self.retry_delays):
                log.warning("reply mail %s given up after %d attempts: %s", item.id, attempts,
                            exc)
                self._finish(engine, item, state=FAILED, attempts=attempts,
                             finished_at=utcnow())
            else:
                delay = timedelta(seconds=self.retry_delays[attempts - 1])
                self._finish(engine, item, attempts=attempts, next_attempt_at=utcnow() + delay)
            return
        self._finish(engine, item, state=SENT, attempts=item.attempts + 1, finished_at=utcnow())

    @staticmethod
    def purge(connection, keep_days: float) -> int:
        """Forget mails sent or given up more than ``keep_days`` ago (the
        webhook deliveries' period): the messages themselves stay."""
        cutoff = utcnow() - timedelta(days=keep_days)
        return connection.execute(delete(_mails).where(
            _mails.c.state != PENDING, _mails.c.finished_at < cutoff)).rowcount

    @staticmethod
    def _finish(engine, item: Claimed, **values) -> None:
        with engine.begin() as connection:
            connection.execute(
                update(_mails).where(_MINE).values(claimed_until=None, claim_token=None,
                                                   **values),
                {"mail": item.id, "token": item.token})


def reply_mail(session, urls, item: Claimed) -> Mail | None:
    found = {m.id: m for m in session.scalars(select(TrackerMessage).where(
        TrackerMessage.tracker_id == item.tracker_id,
        TrackerMessage.id.in_((item.reply_id, item.question_id))))}
    reply, question = found.get(item.reply_id), found.get(item.question_id)
    tracker = read_tracker(session, item.tracker_id)
    if reply is None or question is None or not question.email or tracker is None:
        return None
    business = session.get(Tenant, item.tenant_id).name
    link = urls.tracking(tracker.tracking_token)
    # In the language the question was asked in (older questions: English).
    _ = translations(i18n_language(question.language) or "en").gettext
    subject = _("%(business)s answered your question about order #%(number)s") % {
        "business": business, "number": tracker.number}
    answered = _("%(business)s answered your question about “%(order)s”:")
    yours, follow = _("Your question:"), _("Follow your order and ask again here:")
    text = (f"{answered % {'business': business, 'order': tracker.name}}\n\n{reply.text}\n\n"
            f"{yours}\n{question.text}\n\n{follow} {link}\n")
    html = (
        f"<p>{escape(answered % {'business': business, 'order': tracker.name})}</p>"
        f"<blockquote style=\"white-space:pre-wrap\">{escape(reply.text)}</blockquote>"
        f"<p>{escape(yours)}</p><blockquote style=\"white-space:pre-wrap\">"
        f"{escape(question.text)}</blockquote>"
        f"<p>{escape(follow)} <a href=\"{escape(link)}\">{escape(link)}</a></p>"
    )
    return Mail(to=question.email, subject=subject, text=text, html=html)
