"""Subscriptions to a tracker's news: asked for, confirmed, ended.

Plain functions on a session bound to the tracker's tenant, shared by the
public page, the API and the dashboard. Nothing here sends mail: a
confirmation is queued as a job in the same transaction, and the worker
sends it (tracee.customer_mail.sending).
"""

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from tracee.customer_mail.models import (
    CONFIRM,
    MAX_ADDRESS,
    CustomerMailJob,
    MailSubscription,
)
from tracee.db import utcnow
from tracee.i18n import N_
from tracee.tenancy.scope import require_tenant
from tracee.tracking.models import Tracker

# Deliberately plain: an address a shop's customer types, in ASCII (an
# international domain in its xn-- form). What JSON Schema, the page and the
# SMTP envelope all read the same way; no quoting, no comments, no spaces.
ADDRESS_PATTERN = (r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
                   r"\.[A-Za-z]{2,63}\Z")
ADDRESS_RE = re.compile(ADDRESS_PATTERN)
LANGUAGE_PATTERN = r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?\Z"
LANGUAGE_RE = re.compile(LANGUAGE_PATTERN)
DEFAULT_LANGUAGE = "en"
TOKEN_MAX = 64


class AddressError(ValueError):
    """An address refused, with a message for the person who typed it."""


def clean_address(value) -> str:
    """The address to store (lower case), or AddressError saying what is wrong."""
    if not isinstance(value, str) or not value.strip():
        raise AddressError(N_("Enter your email address."))
    if "\r" in value or "\n" in value:
        # Refused outright, never cleaned: a line break is how a header is injected.
        raise AddressError(N_("An email address cannot contain line breaks."))
    value = value.strip()
    if len(value) > MAX_ADDRESS:
        raise AddressError(N_("An email address has at most 254 characters."))
    if not ADDRESS_RE.match(value):
        raise AddressError(N_("Enter an email address like name@example.com."))
    return value.lower()


def clean_language(value) -> str:
    """A language tag to keep for the subscriber's mail; English when it is not one."""
    if isinstance(value, str) and LANGUAGE_RE.match(value):
        return value.replace("_", "-")
    return DEFAULT_LANGUAGE


def progress_digest(tracker) -> str:
    """What a subscriber has been told, in 64 characters: the visible steps'
    statuses and whether the order is complete. Hidden steps are left out, so
    a change to one alone never makes news."""
    parts = [f"{s.position}:{s.name}:{s.status}" for s in tracker.steps if s.visible]
    parts.append("done" if tracker.is_completed else "open")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def find_by_address(session, tracker_id: int, email: str) -> MailSubscription | None:
    return session.scalar(select(MailSubscription).where(
        MailSubscription.tracker_id == tracker_id, MailSubscription.email == email))


def find_by_token(session, tracker_id: int, token: str) -> MailSubscription | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    return session.scalar(select(MailSubscription).where(
        MailSubscription.tracker_id == tracker_id, MailSubscription.token == token))


def list_subscriptions(session, tracker_id: int) -> list[MailSubscription]:
    return list(session.scalars(select(MailSubscription)
                                .where(MailSubscription.tracker_id == tracker_id)
                                .order_by(MailSubscription.created_at, MailSubscription.id)))


def queue_confirmation(session, subscription: MailSubscription) -> None:
    session.add(CustomerMailJob(
        tenant_id=require_tenant(session), tracker_id=subscription.tracker_id,
        subscription_id=subscription.id, kind=CONFIRM))


def subscribe(session, tracker, email: str, language: str, source: str,
              confirmed: bool = False) -> MailSubscription:
    """Subscribe ``email`` (already cleaned) to ``tracker``, locked by the caller
    (tracker_for_update), so two requests for one tracker apply one after the other.

    A new address is confirmed at once if ``confirmed`` (the shop says so),
    else a confirmation is queued. An address already waiting for its
    confirmation gets it again; one already confirmed is left as it is.
    """
    existing = find_by_address(session, tracker.id, email)
    if existing is not None:
        if existing.confirmed_at is None:
            if confirmed:
                confirm(existing, tracker)
            else:
                queue_confirmation(session, existing)
        return existing
    highest = session.scalar(select(func.max(MailSubscription.id))
                             .where(MailSubscription.tracker_id == tracker.id))
    subscription = MailSubscription(
        tracker_id=tracker.id, id=(highest or 0) + 1, email=email, language=language,
        token=secrets.token_urlsafe(32), source=source, created_at=utcnow())
    session.add(subscription)
    session.flush()
    if confirmed:
        confirm(subscription, tracker)
    else:
        queue_confirmation(session, subscription)
    return subscription


def confirm(subscription: MailSubscription, tracker) -> None:
    """From now on the subscriber hears of changes after the state they see now."""
    if subscription.confirmed_at is None:
        subscription.confirmed_at = utcnow()
        subscription.notified_state = progress_digest(tracker)


def unsubscribe(session, subscription: MailSubscription) -> None:
    session.delete(subscription)
    session.flush()


def remove(session, tracker_id: int, subscription_id: int) -> bool:
    """Staff removing an address from the tracker's page; False if it was not there."""
    result = session.execute(delete(MailSubscription).where(
        MailSubscription.tracker_id == tracker_id, MailSubscription.id == subscription_id))
    return result.rowcount > 0


def purge_expired(session, keep_days: float, confirm_days: float,
                  now: datetime | None = None) -> int:
    """Forget the bound tenant's subscriptions to orders completed more than
    ``keep_days`` ago, and those never confirmed within ``confirm_days``."""
    now = now or utcnow()
    finished = select(Tracker.id).where(Tracker.tenant_id == require_tenant(session),
                                        Tracker.completed_at < now - timedelta(days=keep_days))
    result = session.execute(delete(MailSubscription).where(
        (MailSubscription.tracker_id.in_(finished))
        | (MailSubscription.confirmed_at.is_(None)
           & (MailSubscription.created_at < now - timedelta(days=confirm_days)))))
    return result.rowcount
