"""The mail a tenant's owners get when the worker disables one of its endpoints.

Sent after the transaction that disabled the endpoint has committed, never
from inside it; ``owners_notified_at`` records that it went, so an endpoint
is announced once per time it is disabled (enabling it clears the mark).
A mail server that refuses leaves the mark empty and the reason in the log.
"""

import logging

from sqlalchemy import select, update

from tracee.accounts.mails import mail_with_link
from tracee.accounts.models import OWNER, Membership, User
from tracee.db import utcnow
from tracee.mail import Mail, MailError
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant
from tracee.webhooks.models import WebhookEndpoint

log = logging.getLogger(__name__)


def disabled_mail(to: str, business: str, url: str, reason: str, api_url: str) -> Mail:
    return mail_with_link(
        to, "A Tracee webhook endpoint was disabled",
        f"Tracee stopped sending {business}'s webhooks to {url}: {reason}.",
        "The endpoint", api_url,
        "Its events are kept and go out, in order, once the endpoint is enabled again "
        "(PATCH it with {\"enabled\": true}).",
    )


def notify_owners(session_factory, mailer, base_url: str, tenant_id: int,
                  endpoint_id: int) -> int:
    """Mail the tenant's owners that the endpoint is disabled; how many were sent."""
    with session_factory() as session:
        bind_tenant(session, tenant_id)
        endpoint = session.get(WebhookEndpoint, (tenant_id, endpoint_id))
        if endpoint is None or endpoint.enabled or endpoint.owners_notified_at is not None:
            return 0
        business = session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
        owners = session.scalars(
            select(User.email).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id, Membership.role == OWNER)
            .order_by(User.email)).all()
        api_url = f"{base_url.rstrip('/')}/api/v1/webhooks/{endpoint_id}/"
        mails = [disabled_mail(to, business, endpoint.url, endpoint.disabled_reason or
                               "it was disabled", api_url) for to in owners]
        url = endpoint.url
    try:
        for mail in mails:
            mailer.send(mail)
    except MailError:
        log.exception("could not tell tenant %s's owners that %s is disabled", tenant_id, url)
        return 0
    with session_factory() as session:
        bind_tenant(session, tenant_id)
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id,
                   WebhookEndpoint.enabled.is_(False))
            .values(owners_notified_at=utcnow()))
        session.commit()
    return len(mails)
