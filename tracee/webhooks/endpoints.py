"""What the API (and later the dashboard) does with a tenant's endpoints.

Plain functions over a tenant-bound session; they never commit. The queue
table is not behind row-level security, so every statement on it here
names the bound tenant (``require_tenant``).
"""

from datetime import timedelta

from sqlalchemy import bindparam, func, insert, select, update

from tracee.db import utcnow
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import require_tenant
from tracee.webhooks.models import (
    DELIVERED,
    FAILED,
    PAUSED,
    PENDING,
    TEST_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tracee.webhooks.signing_secrets import SecretBox, new_secret

ROTATION_OVERLAP = timedelta(hours=24)
# Each event is queued once per endpoint inside the change's own transaction:
# the cap bounds what one tenant's change can cost.
MAX_ENDPOINTS = 20


class TooManyEndpoints(ValueError):
    pass
_deliveries, _tenants = WebhookDelivery.__table__, Tenant.__table__
_OWN_DELIVERIES = (_deliveries.c.tenant_id == bindparam("owner_tenant")) & (
    _deliveries.c.endpoint_id == bindparam("owner_endpoint"))
# A write first: it takes the tenant row's lock (SQLite: the database's)
# before the highest id is read, so two creates cannot pick the same id.
_LOCK_TENANT = (update(_tenants).where(_tenants.c.id == bindparam("tenant"))
                .values(tracker_seq=_tenants.c.tracker_seq))


def _owner(session, endpoint_id: int) -> dict:
    return {"owner_tenant": require_tenant(session), "owner_endpoint": endpoint_id}


def create_endpoint(session, box: SecretBox, url: str, events: list[str], description: str):
    """A new endpoint and its secret, which is returned only here."""
    tenant_id = require_tenant(session)
    session.connection().execute(_LOCK_TENANT, {"tenant": tenant_id})
    count, highest = session.execute(
        select(func.count(WebhookEndpoint.id), func.max(WebhookEndpoint.id))).one()
    if count >= MAX_ENDPOINTS:
        raise TooManyEndpoints(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints")
    highest = highest or 0
    secret = new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=highest + 1, url=url, events=" ".join(events), description=description,
        enabled=True, secret=box.seal(secret), created_at=now, updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def find_endpoint(session, endpoint_id: int) -> WebhookEndpoint | None:
    return session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


def list_endpoints(session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def update_endpoint(session, endpoint: WebhookEndpoint, changes: dict) -> None:
    if "url" in changes:
        endpoint.url = changes["url"]
    if "events" in changes:
        endpoint.events = " ".join(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        set_enabled(session, endpoint, changes["enabled"])
    endpoint.updated_at = utcnow()


def set_enabled(session, endpoint: WebhookEndpoint, enabled: bool, reason: str | None = None):
    """Enable or disable; a disabled endpoint's queued deliveries wait (paused)."""
    now = utcnow()
    endpoint.enabled = enabled
    endpoint.updated_at = now
    if enabled:
        endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
        endpoint.owners_notified_at = None
        before, after = PAUSED, PENDING
    else:
        endpoint.disabled_at, endpoint.disabled_reason = now, reason or "disabled by the API"
        before, after = PENDING, PAUSED
    session.connection().execute(
        update(_deliveries).where(_OWN_DELIVERIES, _deliveries.c.state == before)
        .values(state=after, next_attempt_at=now), _owner(session, endpoint.id))
    session.flush()


def delete_endpoint(session, endpoint: WebhookEndpoint) -> None:
    """Gone with its queue and its log (foreign keys cascade)."""
    session.delete(endpoint)
    session.flush()


def rotate_secret(session, box: SecretBox, endpoint: WebhookEndpoint) -> str:
    """A new secret; the one it replaces keeps signing beside it for 24 hours."""
    secret = new_secret()
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret = box.seal(secret)
    endpoint.updated_at = now
    session.flush()
    return secret


def queue_test(session, endpoint: WebhookEndpoint) -> int:
    """Queue a ``webhook.test`` event for the endpoint; the delivery's id."""
    now = utcnow()
    return session.connection().execute(
        insert(_deliveries).returning(_deliveries.c.id),
        {"tenant_id": require_tenant(session), "endpoint_id": endpoint.id, "tracker_id": None,
         "seq": None, "event_type": TEST_EVENT, "state": PENDING if endpoint.enabled else PAUSED,
         "attempts": 0, "created_at": now, "next_attempt_at": now, "manual": False},
    ).scalar_one()


def retry_delivery(session, endpoint: WebhookEndpoint, delivery_id: int) -> bool:
    """Send a delivery now; False if the endpoint has no such delivery.

    A finished one (delivered or given up) gets one more attempt; a pending
    one is brought forward and keeps its schedule; one being sent at this
    moment is left to finish.
    """
    now = utcnow()
    held = _deliveries.c.claimed_until.is_not(None) & (_deliveries.c.claimed_until > now)
    found = session.connection().execute(
        select(_deliveries.c.id, held.label("held"))
        .where(_OWN_DELIVERIES, _deliveries.c.id == bindparam("delivery")),
        {**_owner(session, endpoint.id), "delivery": delivery_id},
    ).first()
    if found is None:
        return False
    if not found.held:
        session.connection().execute(
            update(_deliveries).where(_OWN_DELIVERIES, _deliveries.c.id == bindparam("delivery"))
            .values(state=PENDING if endpoint.enabled else PAUSED, next_attempt_at=now,
                    finished_at=None, manual=_deliveries.c.state.in_((DELIVERED, FAILED)),
                    claimed_until=None, claim_token=None),
            {**_owner(session, endpoint.id), "delivery": delivery_id},
        )
    return True


def attempts_page(session, endpoint_id: int, page: int, per_page: int):
    """(total, one page of the endpoint's attempts, newest first)."""
    query = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
    total = session.scalar(query.with_only_columns(func.count()))
    rows = list(session.scalars(
        query.order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.delivery_id.desc(),
                       WebhookAttempt.number.desc())
        .limit(per_page).offset((page - 1) * per_page)))
    return total, rows


def last_attempts(session) -> dict[int, WebhookAttempt]:
    """Each endpoint's latest attempt, by endpoint id: how its deliveries are going."""
    tenant = WebhookAttempt.tenant_id == require_tenant(session)
    newest = (select(WebhookAttempt.endpoint_id, func.max(WebhookAttempt.attempted_at).label("at"))
              .where(tenant).group_by(WebhookAttempt.endpoint_id).subquery())
    found = session.scalars(
        select(WebhookAttempt).join(newest, (WebhookAttempt.endpoint_id == newest.c.endpoint_id)
                                    & (WebhookAttempt.attempted_at == newest.c.at))
        .where(tenant).order_by(WebhookAttempt.delivery_id))
    return {attempt.endpoint_id: attempt for attempt in found}
