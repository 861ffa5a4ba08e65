"""``tracee worker``: the loop that sends queued webhook deliveries, customer mails
and reply mails.

One claim statement hands the loop a batch of due deliveries. On
PostgreSQL the loop prepares the batch in one round trip, the threads send,
and a recording thread records what came back, whatever has gathered since
its last write, again in one round trip (tracee.webhooks.pipelined); on
SQLite, and for anything unusual, a thread prepares, sends and records its
delivery through the Session. Everything after the claim runs in the
delivery's tenant. On PostgreSQL any number of workers run side by side
(claims skip rows another worker has locked); on SQLite run one.

A success recorded a moment after it came back, with others, is still
recorded before the tracker's next event can be claimed; a worker killed in
between only sends it again once its claim expires (receivers dedupe by
webhook-id).

Customer mails (tracee.customer_mail.sending) are claimed the same way,
into the same threads, once the webhook deliveries have had their turn.

Hourly, in a thread beside the loop, it purges what is kept only for a
while: finished deliveries and mail jobs past their retention, ended
dashboard sessions (in the database store; Redis expires its own), mailed
links past their expiry and ``Idempotency-Key`` answers past
``tracee.idempotency.keep_hours``.

SIGTERM or SIGINT stops claiming and lets the deliveries under way finish
(each is bounded by the timeout). A worker killed outright loses nothing:
its claims expire after ``tracee.webhooks.claim_seconds`` and another
worker (or this one, restarted) sends them again.
"""

import logging
import queue
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import nullcontext

from tracee.accounts import tokens
from tracee.accounts.sessions import make_store
from tracee.customer_mail import sending as customer_mail
from tracee.customer_mail.config import CustomerMailSettings
from tracee.db import make_engine, make_session_factory
from tracee.idempotency.store import keep_period, purge_expired
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
_DONE = object()  # tells the recording thread that nothing more will come
# Recording is a round trip per batch whatever its size: written the moment
# one came back, batches held 3 on average under load; waiting this long for
# the rest of one round of threads cut recording's CPU per delivery by a
# quarter. A success is still recorded before its tracker's next event is due.
RECORD_GATHER_SECONDS = 0.004


class _Pace:
    """Asks a queue at most every ``seconds``, or again at once if its last
    answer found work: asked on every turn of a busy loop, an empty queue cost
    the loop a round trip per delivery."""

    def __init__(self, seconds: float):
        self.seconds, self._next = seconds, 0.0

    def ask(self, claim):
        """``claim()``'s answer, or None when it is not yet time to ask."""
        now = time.monotonic()
        if now < self._next:
            return None
        found = claim()
        self._next = now if found else now + self.seconds
        return found


class Worker:
    def __init__(self, settings: dict):
        self.hooks = WebhookSettings.from_settings(settings)
        self.box = SecretBox(self.hooks.secret_keys)
        self.urls = PublicUrls(settings["tracee.public_url"])
        self.mailer = mailer_from_settings(settings)
        engine_settings = dict(settings)
        if not settings["sqlalchemy.url"].startswith("sqlite"):
            # A connection per thread, one for claiming, one for recording, one
            # for the hourly purge.
            engine_settings["sqlalchemy.pool_size"] = str(self.hooks.concurrency + 3)
        self.engine = make_engine(engine_settings)
        self.sessions = make_session_factory(self.engine)
        # The common case in a round trip per step (tracee.webhooks.pipelined).
        self.pipelined = self.engine.dialect.name == "postgresql"
        # SQLite lets one writer at a time in; the others wait in its busy
        # handler, which sleeps in steps of up to 100 ms and so wakes late.
        # Queued on a lock here, a thread goes in the moment the last is done.
        self._one_writer = nullcontext() if self.pipelined else threading.Lock()
        self.mail_settings = CustomerMailSettings.from_settings(settings)
        self.customer_mail = customer_mail.CustomerMailer(
            self.mail_settings, self.sessions, self.mailer, self.urls)
        # Mail is not urgent to the second: its queues are asked at most every
        # tracee.customer_mail.poll_seconds, whatever pace webhooks poll at.
        self._mail_pace = _Pace(self.mail_settings.poll_seconds)
        self._reply_pace = _Pace(self.mail_settings.poll_seconds)
        self.stopping = threading.Event()
        self._returned = queue.SimpleQueue()  # what the threads sent, for record_returned
        self._local = threading.local()
        self._last_purge: float | None = None  # purged first thing, then hourly
        self._purging: threading.Thread | None = None
        self.reply_mails = ReplyMails(settings)
        self.logins = make_store(settings)  # only to purge ended sessions
        self.idempotency_keep = keep_period(settings)

    def _http(self):
        # requests.Session is not documented as thread-safe: one per thread.
        if not hasattr(self._local, "http"):
            self._local.http = delivery_session(self.hooks)
        return self._local.http

    def claim(self, limit: int) -> list[delivery.Claimed]:
        # One statement, atomic by itself: run without BEGIN and COMMIT, it is
        # one round trip instead of three.
        with self._one_writer, \
                self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return delivery.claim(connection, self.hooks, limit)

    def claim_customer_mail(self, limit: int) -> list[customer_mail.ClaimedJob]:
        with self.engine.begin() as connection:
            return customer_mail.claim(connection, self.mail_settings, limit)

    def claim_customer_mail_now_and_then(self, limit: int) -> list[customer_mail.ClaimedJob]:
        return self._mail_pace.ask(lambda: self.claim_customer_mail(limit)) or []

    def send_reply_mails_now_and_then(self) -> None:
        # Few and small: sent from this loop's thread, between claims.
        self._reply_pace.ask(lambda: self.reply_mails.run_once(
            self.engine, self.sessions, self.mailer, self.urls))

    def send_due_customer_mail(self) -> int:
        """Send every customer mail job due now, in this thread (tests, one-off runs)."""
        done = 0
        while claimed := self.claim_customer_mail(10):
            for job in claimed:
                self.customer_mail.run(job)
            done += len(claimed)
        return done

    def claim_and_prepare(self, limit: int) -> tuple[list[delivery.Claimed], list]:
        """Claim up to ``limit`` deliveries and, on PostgreSQL, say what to send
        for each, claimed and prepared on one connection in two round trips;
        None for those the sending thread prepares itself."""
        if not self.pipelined:
            claimed = self.claim(limit)
            return claimed, [None] * len(claimed)
        return pipelined.claim_and_prepare(self.engine, self.hooks, self.box, self.urls, limit)

    def deliver(self, claimed: delivery.Claimed, outgoing: delivery.Outgoing | None = None,
                send_by: float | None = None) -> None:
        """Send one claimed delivery; on any error its claim simply expires.

        Prepared (``outgoing``), it is only sent here, and the outcome handed
        to the recording thread, which records it with others
        (:meth:`record_returned`); otherwise it is prepared, sent and
        recorded here, through the Session. Not sent at all after ``send_by``
        (monotonic), when its claim could run out under way: it expires, and
        the delivery is claimed again."""
        if send_by is not None and time.monotonic() > send_by:
            return
        try:
            if outgoing is not None:
                outcome = delivery.send(self._http(), claimed, outgoing, self.hooks)
                self._returned.put((claimed, outgoing, outcome))
                return
            with self.sessions() as session:
                outgoing = delivery.prepare(session, self.box, self.urls, claimed)
                session.commit()
            if outgoing is not None:
                self.record_one(claimed, outgoing,
                                delivery.send(self._http(), claimed, outgoing, self.hooks))
        except Exception:
            log.exception("delivery %s failed; it is retried once its claim expires", claimed.id)

    def record_returned(self) -> None:
        """The recording thread: records what came back, up to a batch of
        ``concurrency`` gathered for at most RECORD_GATHER_SECONDS, until :data:`_DONE`."""
        done = False
        size = self.hooks.concurrency
        while not done:
            batch = [self._returned.get()]
            until = time.monotonic() + RECORD_GATHER_SECONDS
            while len(batch) < size:
                try:
                    left = until - time.monotonic()
                    batch.append(self._returned.get(timeout=left) if left > 0
                                 else self._returned.get_nowait())
                except queue.Empty:
                    break
            done = _DONE in batch
            self.record([sent for sent in batch if sent is not _DONE])

    def record(self, done: list[pipelined.Sent]) -> None:
        """Record attempts that came back: on PostgreSQL a batch in one round trip."""
        if not done:
            return
        try:
            left = pipelined.record(self.engine, self.hooks, done)
        except Exception:
            log.exception("recording %d attempts failed; they are sent again once their "
                          "claims expire", len(done))
            return
        for claimed, outgoing, outcome in left:
            try:
                self.record_one(claimed, outgoing, outcome)
            except Exception:
                log.exception("recording delivery %s failed; it is sent again once its "
                              "claim expires", claimed.id)

    def record_one(self, claimed: delivery.Claimed, outgoing: delivery.Outgoing,
                   outcome: delivery.Outcome) -> None:
        """Record one attempt through the Session, which handles every case."""
        with self._one_writer, self.sessions() as session:
            disabled = delivery.record(session, self.hooks, claimed, outgoing, outcome)
            session.commit()
        if disabled:
            notify_owners(self.sessions, self.mailer, self.urls.base, claimed.tenant_id,
                          claimed.endpoint_id)

    def _purge_due(self) -> bool:
        if self._last_purge is not None and (
                time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS):
            return False
        self._last_purge = time.monotonic()
        return True

    def purge_aside(self) -> None:
        """The hourly purge in a thread of its own, when due: old Idempotency-Key
        answers go a transaction per tenant (row-level security shows one at a
        time), which must not hold up the deliveries."""
        if (self._purging is None or not self._purging.is_alive()) and self._purge_due():
            self._purging = threading.Thread(target=self._purge_logging_errors,
                                             name="worker-purge", daemon=True)
            self._purging.start()

    def _purge_logging_errors(self) -> None:
        try:
            self.purge()
        except Exception:
            log.exception("purging failed; tried again in an hour")

    def purge_now_and_then(self) -> None:
        """The hourly purge in this thread, when due."""
        if self._purge_due():
            self.purge()

    def purge(self) -> None:
        with self.engine.begin() as connection:
            purged = delivery.purge(connection, self.hooks)
            self.reply_mails.purge(connection, self.hooks.keep_days)
            logins = self.logins.purge_ended(connection) + tokens.purge_expired(connection)
        if logins:
            log.info("purged %d ended dashboard sessions and expired mailed links", logins)
        if purged:
            log.info("purged %d finished deliveries older than %g days", purged,
                     self.hooks.keep_days)
        jobs, subscriptions = customer_mail.purge(self.sessions, self.engine, self.mail_settings)
        if jobs or subscriptions:
            log.info("purged %d finished customer mail jobs and %d subscriptions", jobs,
                     subscriptions)
        answers = purge_expired(self.sessions, self.idempotency_keep)
        if answers:
            log.info("purged %d Idempotency-Key answers older than %g hours", answers,
                     self.idempotency_keep.total_seconds() / 3600)

    def run(self) -> None:
        """Deliver until stopped.

        Deliveries are claimed a batch at a time, up to ``concurrency`` more
        than the threads can take at once, and wait their turn in the pool's
        queue: claiming once per finished delivery cost the database more
        than the delivery. On stopping, those not started are released, those
        under way finish, and what came back is recorded."""
        size = self.hooks.concurrency
        # The threads mostly wait for the database and the receivers; one whose
        # answer has come waits for the GIL until the running thread is made
        # to yield, after 5 ms by default. Shorter served the deliveries when
        # each claimed its own; with batches, 2 ms measured best of 0.5-5 ms
        # (0.57-0.61 of the bench's floor against 0.52-0.54 at 0.5 ms, and
        # less CPU per delivery: fewer forced switches).
        sys.setswitchinterval(0.002)
        recorder = threading.Thread(target=self.record_returned, name="webhook-record")
        recorder.start()
        try:
            self._deliver_until_stopped(size)
        finally:
            self._returned.put(_DONE)
            recorder.join()  # and record what came back
            if self._purging is not None:
                self._purging.join()
        self.engine.dispose()

    def _deliver_until_stopped(self, size: int) -> None:
        fresh_for = self.hooks.claim_seconds - self.hooks.timeout
        # Submitted and not finished: each future's delivery (None for a mail).
        # Up to ``size`` of them wait in the pool's queue, so that a thread
        # takes the next as soon as it is free, not when this loop comes round.
        under_way = {}
        with ThreadPoolExecutor(size, thread_name_prefix="webhook") as pool:
            while not self.stopping.is_set():
                claimed, mails = [], []
                try:
                    self.purge_aside()
                    self.send_reply_mails_now_and_then()
                    if len(under_way) <= size:
                        claimed, ready = self.claim_and_prepare(2 * size - len(under_way))
                        send_by = time.monotonic() + fresh_for
                        for one, outgoing in zip(claimed, ready, strict=True):
                            under_way[pool.submit(self.deliver, one, outgoing, send_by)] = one
                    free = size - len(under_way)
                    mails = self.claim_customer_mail_now_and_then(free) if free > 0 else []
                except Exception:
                    log.exception("claiming failed; trying again shortly")
                under_way |= {pool.submit(self.customer_mail.run, m): None for m in mails}
                found = claimed or mails
                if under_way and (len(under_way) >= size or not found):
                    done, _ = wait(under_way, timeout=self.hooks.poll_seconds,
                                   return_when=FIRST_COMPLETED)
                    for future in done:
                        del under_way[future]
                elif not found:
                    self.stopping.wait(self.hooks.poll_seconds)
            # Those not started are given back; those under way finish.
            self.release([one for future, one in under_way.items()
                          if one is not None and future.cancel()])
            wait(under_way)

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
