"""Invitations: an owner or admin asks an email to join the tenant with a role.

The mailed link carries a random token; only its SHA-256 is stored. A link
works once, until it expires or is revoked, and only for its own tenant
(``/invitations/<slug>/<token>``: the slug says which tenant to bind before
the token is looked for, so the row stays behind the tenant's RLS policy).
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update

from tracee.accounts.models import Invitation, Membership, User
from tracee.accounts.passwords import check_new_password
from tracee.accounts.service import (
    AccountError,
    add_membership,
    check_role,
    create_user,
    normalize_email,
    set_password,
)
from tracee.db import utcnow
from tracee.tenancy.scope import bind_tenant

LIFETIME = timedelta(days=7)
# A cap on what is waiting: each invitation is a mail sent on the tenant's behalf.
MAX_PENDING = 50
MAX_TOKEN_LENGTH = 100


class AlreadyMember(AccountError):
    field = "email"


class TooManyPending(AccountError):
    field = "email"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _pending():
    return (Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow())


def pending_invitations(session, tenant_id: int) -> list[Invitation]:
    bind_tenant(session, tenant_id)
    return list(session.scalars(
        select(Invitation).where(*_pending()).order_by(Invitation.created_at.desc())))


def invite(session, tenant_id: int, email: str, role: str, invited_by: User | None) -> str:
    """A new invitation's token; an earlier pending one for the address is revoked,
    so the newest mail is the one that works. ``invited_by`` is None from the CLI."""
    email, role = normalize_email(email), check_role(role)
    bind_tenant(session, tenant_id)
    member = session.scalar(select(Membership.user_id).join(User, User.id == Membership.user_id)
                            .where(User.email == email))
    if member is not None:
        raise AlreadyMember(f"{email} is already a member.")
    now = utcnow()
    session.execute(
        update(Invitation).where(Invitation.email == email, *_pending()).values(revoked_at=now)
        .execution_options(synchronize_session=False))
    waiting = session.scalar(select(func.count()).select_from(Invitation).where(*_pending()))
    if waiting >= MAX_PENDING:
        raise TooManyPending(f"{MAX_PENDING} invitations are waiting already; revoke some first.")
    token = secrets.token_urlsafe(32)
    session.add(Invitation(
        tenant_id=tenant_id, token_hash=_hash(token), email=email, role=role,
        invited_by=invited_by.id if invited_by else None, created_at=now, expires_at=now + LIFETIME,
    ))
    session.flush()
    return token


def find_invitation(session, tenant_id: int, token: str) -> Invitation | None:
    """The pending invitation the token opens, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    bind_tenant(session, tenant_id)
    return session.scalar(
        select(Invitation).where(Invitation.token_hash == _hash(token), *_pending()))


def find_pending(session, tenant_id: int, token_hash: str) -> Invitation | None:
    """A pending invitation by its stored hash (how the team page names it)."""
    if len(token_hash) != 64:
        return None
    bind_tenant(session, tenant_id)
    return session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash, *_pending()))


def revoke(session, invitation: Invitation) -> None:
    invitation.revoked_at = utcnow()
    session.flush()


def _claim(session, invitation: Invitation) -> bool:
    """Mark it accepted unless another request did first (one link, one use)."""
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.token_hash == invitation.token_hash, *_pending())
        .values(accepted_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1


def accept(session, invitation: Invitation, user: User) -> Membership | None:
    """Give an existing user (logged in as the invited address) the role."""
    if user.email != invitation.email or not _claim(session, invitation):
        return None
    return add_membership(session, invitation.tenant_id, user, invitation.role)


def accept_as_new_user(session, invitation: Invitation, password: str) -> User | None:
    """Create the invited person's account with ``password``; following the
    mailed link confirms the address. Raises PasswordRejected for a weak one."""
    check_new_password(password, invitation.email)  # before any row is written
    user = create_user(session, invitation.email)
    set_password(user, password)
    user.email_confirmed_at = utcnow()
    if not _claim(session, invitation):
        return None
    add_membership(session, invitation.tenant_id, user, invitation.role)
    return user


def invitation_link(public_url: str, tenant_slug: str, token: str) -> str:
    return f"{public_url}/invitations/{tenant_slug}/{token}"
