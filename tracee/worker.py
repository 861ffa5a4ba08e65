"""``tracee worker``: the loop that sends queued webhook deliveries, customer mails
and reply mails.

One claim statement hands the loop up to as many due deliveries as it has
free threads; each thread prepares, sends and records one delivery in the
delivery's tenant. On PostgreSQL any number of workers run side by side
(claims skip rows another worker has locked); on SQLite run one.

Customer mails (tracee.customer_mail.sending) are claimed the same way,
into the same threads, once the webhook deliveries have had their turn.

SIGTERM or SIGINT stops claiming and lets the deliveries under way finish
(each is bounded by the timeout). A worker killed outright loses nothing:
its claims expire after ``tracee.webhooks.claim_seconds`` and another
worker (or this one, restarted) sends them again.
"""

import logging
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from tracee.customer_mail import sending as customer_mail
from tracee.customer_mail.config import CustomerMailSettings
from tracee.db import make_engine, make_session_factory
from tracee.mail import mailer_from_settings
from tracee.messages.mails import ReplyMails
from tracee.urls import PublicUrls
from tracee.webhooks import delivery, pipelined
from tracee.webhooks.config import WebhookSettings
from tracee.webhooks.notices import notify_owners
from tracee.webhooks.signing_secrets import SecretBox
from tracee.webhooks.ssrf import delivery_session

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600.0


class Worker:
    def __init__(self, settings: dict):
        self.hooks = WebhookSettings.from_settings(settings)
        self.box = SecretBox(self.hooks.secret_keys)
        self.urls = PublicUrls(settings["tracee.public_url"])
        self.mailer = mailer_from_settings(settings)
        engine_settings = dict(settings)
        if not settings["sqlalchemy.url"].startswith("sqlite"):
            # A connection per thread, and one for claiming.
            engine_settings["sqlalchemy.pool_size"] = str(self.hooks.concurrency + 1)
        self.engine = make_engine(engine_settings)
        self.sessions = make_session_factory(self.engine)
        # The common case in a round trip per step (tracee.webhooks.pipelined).
        self.pipelined = self.engine.dialect.name == "postgresql"
        self.mail_settings = CustomerMailSettings.from_settings(settings)
        self.customer_mail = customer_mail.CustomerMailer(
            self.mail_settings, self.sessions, self.mailer, self.urls)
        self._next_mail_claim = 0.0
        self.stopping = threading.Event()
        self._local = threading.local()
        self._last_purge: float | None = None  # purged first thing, then hourly
        self.reply_mails = ReplyMails(settings)

    def _http(self):
        # requests.Session is not documented as thread-safe: one per thread.
        if not hasattr(self._local, "http"):
            self._local.http = delivery_session(self.hooks)
        return self._local.http

    def claim(self, limit: int) -> list[delivery.Claimed]:
        # One statement, atomic by itself: run without BEGIN and COMMIT, it is
        # one round trip instead of three, and the loop claims once per delivery.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return delivery.claim(connection, self.hooks, limit)

    def claim_customer_mail(self, limit: int) -> list[customer_mail.ClaimedJob]:
        with self.engine.begin() as connection:
            return customer_mail.claim(connection, self.mail_settings, limit)

    def claim_customer_mail_now_and_then(self, limit: int) -> list[customer_mail.ClaimedJob]:
        """Mail is not urgent to the second: its queue is asked at most every
        ``tracee.customer_mail.poll_seconds``, whatever pace webhooks poll at,
        unless the last claim found work."""
        now = time.monotonic()
        if now < self._next_mail_claim:
            return []
        claimed = self.claim_customer_mail(limit)
        self._next_mail_claim = now if claimed else now + self.mail_settings.poll_seconds
        return claimed

    def send_due_customer_mail(self) -> int:
        """Send every customer mail job due now, in this thread (tests, one-off runs)."""
        done = 0
        while claimed := self.claim_customer_mail(10):
            for job in claimed:
                self.customer_mail.run(job)
            done += len(claimed)
        return done

    def deliver(self, claimed: delivery.Claimed) -> None:
        """Send one claimed delivery; on any error its claim simply expires."""
        try:
            outgoing = pipelined.prepare(self.engine, self.box, self.urls, claimed) \
                if self.pipelined else None
            if outgoing is None:
                with self.sessions() as session:
                    outgoing = delivery.prepare(session, self.box, self.urls, claimed)
                    session.commit()
            if outgoing is None:
                return
            outcome = delivery.send(self._http(), claimed, outgoing, self.hooks)
            if self.pipelined and pipelined.record_success(self.engine, claimed, outgoing,
                                                           outcome):
                return
            with self.sessions() as session:
                disabled = delivery.record(session, self.hooks, claimed, outgoing, outcome)
                session.commit()
            if disabled:
                notify_owners(self.sessions, self.mailer, self.urls.base, claimed.tenant_id,
                              claimed.endpoint_id)
        except Exception:
            log.exception("delivery %s failed; it is retried once its claim expires", claimed.id)

    def purge_now_and_then(self) -> None:
        if self._last_purge is not None and (
                time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS):
            return
        self._last_purge = time.monotonic()
        with self.engine.begin() as connection:
            purged = delivery.purge(connection, self.hooks)
            self.reply_mails.purge(connection, self.hooks.keep_days)
        if purged:
            log.info("purged %d finished deliveries older than %g days", purged,
                     self.hooks.keep_days)
        jobs, subscriptions = customer_mail.purge(self.sessions, self.engine, self.mail_settings)
        if jobs or subscriptions:
            log.info("purged %d finished customer mail jobs and %d subscriptions", jobs,
                     subscriptions)

    def run(self) -> None:
        """Deliver until stopped.

        Deliveries are claimed a batch at a time, up to ``concurrency`` more
        than the threads can take at once, and wait their turn here: claiming
        once per finished delivery cost the database more than the delivery.
        One whose claim would run out before it could be sent is not sent
        (its claim expires and it is claimed again); on stopping, those not
        started are released."""
        size = self.hooks.concurrency
        # The threads mostly wait for the database and the receivers; one whose
        # answer has come waits for the GIL until the running thread is made
        # to yield, after 5 ms by default. A tenth of that measured 0.24-0.25
        # -> 0.29-0.41 of the bench's floor, and less CPU per delivery.
        sys.setswitchinterval(0.0005)
        fresh_for = self.hooks.claim_seconds - self.hooks.timeout
        under_way, waiting = set(), deque()  # waiting: (claimed at, delivery)
        with ThreadPoolExecutor(size, thread_name_prefix="webhook") as pool:
            while not self.stopping.is_set():
                claimed, mails = [], []
                try:
                    self.purge_now_and_then()
                    # Few and small: sent from this loop's thread, between claims.
                    self.reply_mails.run_once(self.engine, self.sessions, self.mailer, self.urls)
                    if len(under_way) + len(waiting) <= size:
                        claimed = self.claim(2 * size - len(under_way) - len(waiting))
                        waiting.extend((time.monotonic(), c) for c in claimed)
                    free = size - len(under_way) - len(waiting)
                    mails = self.claim_customer_mail_now_and_then(free) if free > 0 else []
                except Exception:
                    log.exception("claiming failed; trying again shortly")
                while waiting and len(under_way) < size:
                    claimed_at, next_one = waiting.popleft()
                    if time.monotonic() - claimed_at < fresh_for:
                        under_way.add(pool.submit(self.deliver, next_one))
                under_way |= {pool.submit(self.customer_mail.run, m) for m in mails}
                found = claimed or mails
                if under_way and (len(under_way) >= size or not found):
                    done, _ = wait(under_way, timeout=self.hooks.poll_seconds,
                                   return_when=FIRST_COMPLETED)
                    under_way -= done
                elif not found:
                    self.stopping.wait(self.hooks.poll_seconds)
            self.release([c for _, c in waiting])
            wait(under_way)  # finish what is under way; nothing else is held
        self.engine.dispose()

    def release(self, claimed: list[delivery.Claimed]) -> None:
        """Give back claims not started, so that no worker waits for them to expire."""
        if not claimed:
            return
        try:
            with self.engine.begin() as connection:
                delivery.release(connection, claimed)
        except Exception:
            log.exception("releasing %d claims failed; they expire instead", len(claimed))

    def stop(self, *_signal) -> None:
        self.stopping.set()
