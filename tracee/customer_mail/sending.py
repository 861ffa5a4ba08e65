"""The worker's part: claim due customer-mail jobs, send them, record the outcome.

Claiming is one statement over the queue for every tenant, like webhook
deliveries (tracee.webhooks.delivery): a lease (``claimed_until``) that
another worker may take over once it expires, so a killed worker loses
nothing. Everything after the claim runs in a session bound to the job's
tenant. No transaction is open while a mail is on the wire.

News is summed up when it is sent, not when it happened: a job waits
``quiet_seconds`` after the change that queued it (later changes join it),
then tells each confirmed subscriber the tracker's visible progress if it
differs from what they last heard (``progress_digest``). A change to a
hidden step alone changes nothing visible, so it sends nothing.

Over the tenant's daily cap a job is deferred, not dropped: it is sent the
next UTC day, and since it reads the tracker then, it is still true; the
queue holds at most one waiting job per tracker, so deferring cannot pile
up. The deferral is recorded on the job (``note``) and counted per day
(``customer_mail_days.deferred``).
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.utils import formataddr, parseaddr

from sqlalchemy import bindparam, delete, or_, select, text, update

from tracee.branding.acquisition import ThemeCache
from tracee.customer_mail.config import CustomerMailSettings
from tracee.customer_mail.models import (
    CONFIRM,
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
    CustomerMailJob,
    MailSubscription,
)
from tracee.customer_mail.render import render_mail
from tracee.customer_mail.subscriptions import progress_digest
from tracee.db import utcnow
from tracee.i18n import N_
from tracee.leases import claim_statement, held, lease_params
from tracee.mail import Mail, Mailer, MailError
from tracee.tenancy.models import Tenant
from tracee.tenancy.resources import TenantResource
from tracee.tenancy.scope import bind_tenant, read_directory_row, rls_tenant_of
from tracee.tracking.models import COMPLETED, IN_PROGRESS
from tracee.tracking.reads import read_tracker
from tracee.urls import PublicUrls

log = logging.getLogger(__name__)
_jobs = CustomerMailJob.__table__


STATUS = {"pending": N_("Waiting"), IN_PROGRESS: N_("In progress"), COMPLETED: N_("Done")}

# Due (tracee.leases); news also waits out the quiet period after the change
# that queued it.
_CLAIM = claim_statement(
    _jobs, or_(_jobs.c.kind == CONFIRM, _jobs.c.created_at <= bindparam("quiet_until")),
    returning=(_jobs.c.id, _jobs.c.tenant_id, _jobs.c.tracker_id, _jobs.c.subscription_id,
               _jobs.c.kind, _jobs.c.attempts, _jobs.c.claim_token),
)
_MINE = held(_jobs, "job")
_STILL_MINE = select(_jobs.c.id, rls_tenant_of(_jobs.c.tenant_id)).where(_MINE)
# One statement reserves mail against the day's cap on both databases; no
# row comes back when the reservation would pass the cap.
_RESERVE = text(
    "INSERT INTO customer_mail_days (tenant_id, day, sent, deferred) "
    "VALUES (:tenant, :day, :n, 0) "
    "ON CONFLICT (tenant_id, day) DO UPDATE SET sent = customer_mail_days.sent + :n "
    "WHERE customer_mail_days.sent + :n <= :cap RETURNING sent")
_UNRESERVE = text("UPDATE customer_mail_days SET sent = sent - :n "
                  "WHERE tenant_id = :tenant AND day = :day")
_COUNT_DEFERRED = text(
    "INSERT INTO customer_mail_days (tenant_id, day, sent, deferred) "
    "VALUES (:tenant, :day, 0, 1) "
    "ON CONFLICT (tenant_id, day) DO UPDATE SET deferred = customer_mail_days.deferred + 1")


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    tenant_id: int
    tracker_id: int
    subscription_id: int | None
    kind: str
    attempts: int
    token: str


def claim(connection, settings: CustomerMailSettings, limit: int) -> list[ClaimedJob]:
    params = lease_params(settings.claim_seconds, limit)
    params["quiet_until"] = params["now"] - timedelta(seconds=settings.quiet_seconds)
    return [ClaimedJob(*row) for row in connection.execute(_CLAIM, params).all()]


def _finish(session, job: ClaimedJob, **values) -> None:
    session.connection().execute(
        update(_jobs).where(_MINE).values(claimed_until=None, claim_token=None, **values),
        {"job": job.id, "token": job.token})


def _tenant_resource(session, tenant_id: int) -> TenantResource:
    """The tenant under its agencies, as the pages' resources have it (for its theme)."""
    chain, tenant = [], session.get(Tenant, tenant_id)
    while tenant is not None and len(chain) < 8:
        chain.append(tenant)
        tenant = session.get(Tenant, tenant.parent_id) if tenant.parent_id else None
    parent = None
    for each in reversed(chain):
        parent = TenantResource(each, parent)
    return parent


def next_utc_day(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)


class CustomerMailer:
    """Sends claimed jobs; one per worker process, used from its threads."""

    def __init__(self, settings: CustomerMailSettings, sessions, mailer: Mailer,
                 urls: PublicUrls):
        self.settings, self.sessions, self.mailer, self.urls = settings, sessions, mailer, urls
        self.themes = ThemeCache()

    def run(self, job: ClaimedJob) -> None:
        """Send one claimed job; on an unexpected error its claim simply expires."""
        try:
            with self.sessions() as session:
                self._run(session, job)
        except Exception:
            log.exception("customer mail job %s failed; it is retried once its claim expires",
                          job.id)

    def _run(self, session, job: ClaimedJob) -> None:
        if read_directory_row(session, _STILL_MINE,
                              {"job": job.id, "token": job.token}) is None:
            return  # the claim expired and another worker took it, or the tracker went
        bind_tenant(session, job.tenant_id)
        tracker = read_tracker(session, job.tracker_id)
        recipients = self._recipients(session, job, tracker) if tracker is not None else []
        if not recipients:
            _finish(session, job, state=SKIPPED, finished_at=utcnow(),
                    note="nothing new to tell a confirmed subscriber")
            session.commit()
            return
        now = utcnow()
        if not self._reserve(session, job, len(recipients), now):
            session.commit()
            return
        brand = self.themes.brand(session, _tenant_resource(session, job.tenant_id))
        session.commit()  # nothing is held while mail is on the wire
        digest = progress_digest(tracker)
        for sent, subscription in enumerate(recipients):
            try:
                self.mailer.send(self._mail(job, tracker, brand, subscription))
            except MailError as exc:
                self._failed(session, job, len(recipients) - sent, now, exc)
                return
            if job.kind != CONFIRM:
                # Told: a retry of this job (a later recipient failing) skips them.
                session.execute(update(MailSubscription).where(
                    MailSubscription.tracker_id == job.tracker_id,
                    MailSubscription.id == subscription.id,
                ).values(notified_state=digest, notified_at=utcnow()))
                session.commit()
        _finish(session, job, state=SENT, finished_at=utcnow(), attempts=job.attempts + 1,
                note=None)
        session.commit()

    def _recipients(self, session, job: ClaimedJob, tracker) -> list[MailSubscription]:
        query = select(MailSubscription).where(MailSubscription.tracker_id == job.tracker_id)
        if job.kind == CONFIRM:
            query = query.where(MailSubscription.id == job.subscription_id,
                                MailSubscription.confirmed_at.is_(None))
        else:
            digest = progress_digest(tracker)
            query = query.where(
                MailSubscription.confirmed_at.is_not(None),
                or_(MailSubscription.notified_state.is_(None),
                    MailSubscription.notified_state != digest))
        return list(session.scalars(query.order_by(MailSubscription.id)))

    def _reserve(self, session, job: ClaimedJob, count: int, now: datetime) -> bool:
        """Count ``count`` mails against today's cap; else defer the job to tomorrow."""
        cap, day = self.settings.daily_cap, now.date()
        if count <= cap and session.execute(_RESERVE, {
                "tenant": job.tenant_id, "day": day, "n": count, "cap": cap}).first():
            return True
        tomorrow = next_utc_day(now)
        # Spread over the first minutes of the day rather than all at midnight.
        when = tomorrow + timedelta(seconds=random.uniform(0, 600))
        session.execute(_COUNT_DEFERRED, {"tenant": job.tenant_id, "day": day})
        _finish(session, job, next_attempt_at=when,
                note=f"daily cap of {cap} mails reached on {day}; deferred to {tomorrow.date()}")
        log.info("customer mail job %s of tenant %s deferred: daily cap of %d reached",
                 job.id, job.tenant_id, cap)
        return False

    def _failed(self, session, job: ClaimedJob, unsent: int, now: datetime,
                error: MailError) -> None:
        session.execute(_UNRESERVE, {"tenant": job.tenant_id, "day": now.date(), "n": unsent})
        attempt = job.attempts + 1
        delays = self.settings.retry_delays
        note = str(error)[:300]
        if attempt > len(delays):
            _finish(session, job, state=FAILED, attempts=attempt, finished_at=utcnow(),
                    note=note)
            log.warning("customer mail job %s given up after %d attempts: %s", job.id,
                        attempt, error)
        else:
            _finish(session, job, attempts=attempt, note=note,
                    next_attempt_at=utcnow() + timedelta(seconds=delays[attempt - 1]))
        session.commit()

    def _mail(self, job: ClaimedJob, tracker, brand, subscription: MailSubscription) -> Mail:
        token = tracker.tracking_token
        unsubscribe_url = f"{self.urls.tracking(token)}/unsubscribe/{subscription.token}"
        context = {"brand": brand, "tracker_name": tracker.name,
                   "tracker_number": tracker.number, "unsubscribe_url": unsubscribe_url}
        if job.kind == CONFIRM:
            rendered = render_mail(
                "customer_confirm", subscription.language,
                (N_("Confirm updates for your order %(name)s"), {"name": tracker.name}),
                confirm_url=f"{self.urls.tracking(token)}/confirm/{subscription.token}",
                **context)
        else:
            rendered = render_mail("customer_update", subscription.language,
                                   _update_subject(tracker),
                                   tracking_url=self.urls.tracking(token),
                                   **_summary(tracker, brand), **context)
        sender = formataddr((brand.display_name, parseaddr(self.mailer.sender)[1]))
        return Mail(
            subscription.email, rendered.subject, rendered.text, rendered.html,
            sender=sender, reply_to=brand.values.get("support_email") or None,
            headers=(("List-Unsubscribe", f"<{unsubscribe_url}>"),
                     ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")),
        )


def _update_subject(tracker) -> tuple:
    if tracker.is_completed:
        return N_("Your order %(name)s is complete"), {"name": tracker.name}
    return N_("News about your order %(name)s"), {"name": tracker.name}


def _summary(tracker, brand) -> dict:
    """The visible steps and the headline, as the tracking page shows them.

    Labels are the theme's names for the steps; status words and the
    headline's phrases are left for the template to translate.
    """
    steps = []
    for step in tracker.steps:
        if step.visible:
            own = brand.step_text(tracker.template_slug, step.name) or {}
            steps.append({"label": own.get("label") or step.name, "status": step.status,
                          "status_label": STATUS[step.status],
                          "current": step.status == IN_PROGRESS})
    current = next((s for s in reversed(steps) if s["status"] == IN_PROGRESS), None)
    finished = next((s for s in reversed(steps) if s["status"] == COMPLETED), None)
    if tracker.is_completed:
        headline = N_("Your order is complete"), {}
    elif current is not None:
        headline = N_("Now: %(step)s"), {"step": current["label"]}
    elif finished is not None:
        headline = N_("%(step)s done"), {"step": finished["label"]}
    else:
        headline = N_("Order received"), {}
    return {"steps": steps, "done": sum(s["status"] == COMPLETED for s in steps),
            "total": len(steps), "is_completed": tracker.is_completed,
            "headline_message": headline[0], "headline_values": headline[1]}


def purge(sessions, engine, settings: CustomerMailSettings) -> tuple[int, int]:
    """Finished jobs past ``job_keep_days``, and expired subscriptions of every tenant."""
    from tracee.customer_mail.subscriptions import purge_expired

    cutoff = utcnow() - timedelta(days=settings.job_keep_days)
    with engine.begin() as connection:
        jobs = connection.execute(delete(_jobs).where(
            _jobs.c.state != PENDING, _jobs.c.finished_at < cutoff)).rowcount
        tenant_ids = connection.execute(select(Tenant.id)).scalars().all()
    subscriptions = 0
    for tenant_id in tenant_ids:  # row-level security: one tenant per session
        with sessions() as session:
            bind_tenant(session, tenant_id)
            subscriptions += purge_expired(session, settings.keep_days, settings.confirm_days)
            session.commit()
    return jobs, subscriptions
