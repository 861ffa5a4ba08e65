"""Users and memberships: creating, finding, authenticating. Free of HTTP."""

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, text

from tracee.accounts import passwords
from tracee.accounts.models import OWNER, ROLES, Membership, User
from tracee.db import utcnow
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant
from tracee.text import is_printable

# Deliberately loose: the confirmation mail is the real test of an address.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+\Z")


class AccountError(ValueError):
    field = None


class InvalidEmail(AccountError):
    field = "email"


class EmailTaken(AccountError):
    field = "email"


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not is_printable(email) or not EMAIL_RE.fullmatch(email):
        raise InvalidEmail("Enter an email address like name@example.com.")
    return email


def find_user(session, email: str) -> User | None:
    try:
        email = normalize_email(email)
    except InvalidEmail:
        return None
    return session.scalar(select(User).where(User.email == email))


def create_user(session, email: str, password: str | None = None) -> User:
    email = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken("An account with this email already exists.")
    user = User(email=email)
    if password is not None:
        set_password(user, password)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    passwords.check_new_password(password, user.email)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()


def authenticate(session, email: str, password: str) -> User | None:
    """The user, if the password is theirs. Unknown emails cost the same time."""
    user = find_user(session, email)
    if user is None or user.password_hash is None:
        # As slow as a real check, so timing does not tell which accounts exist.
        passwords.verify_password(passwords.DUMMY_HASH, password)
        return None
    if not passwords.verify_password(user.password_hash, password):
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


# --- memberships --------------------------------------------------------------


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    return role


def add_membership(session, tenant_id: int, user: User, role: str) -> Membership:
    """Give ``user`` a role in the tenant ``session`` is bound to (its own tenant_id)."""
    check_role(role)
    bind_tenant(session, tenant_id)
    membership = session.get(Membership, (tenant_id, user.id))
    if membership is None:
        membership = Membership(tenant_id=tenant_id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def remove_membership(session, tenant_id: int, user: User) -> None:
    bind_tenant(session, tenant_id)
    membership = session.get(Membership, (tenant_id, user.id))
    if membership is None:
        raise AccountError(f"{user.email} is not a member of this tenant")
    if membership.role == OWNER:
        owners = session.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == OWNER)
        )
        if owners <= 1:
            raise AccountError("the last owner cannot be removed")
    session.delete(membership)
    session.flush()


def tenant_members(session, tenant_id: int) -> list[tuple[User, Membership]]:
    bind_tenant(session, tenant_id)
    rows = session.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .order_by(User.email)
    )
    return [(user, membership) for user, membership in rows]


@dataclass(frozen=True, slots=True)
class TenantRole:
    """One of a user's memberships, with what the dashboard shows of its tenant."""

    tenant_id: int
    slug: str
    name: str
    parent_id: int | None
    role: str


_memberships, _tenants = Membership.__table__, Tenant.__table__
_OWN_MEMBERSHIPS = (
    select(_tenants.c.id, _tenants.c.slug, _tenants.c.name, _tenants.c.parent_id,
           _memberships.c.role)
    .join_from(_memberships, _tenants, _tenants.c.id == _memberships.c.tenant_id)
    .where(_memberships.c.user_id == bindparam("user"))
    .order_by(_tenants.c.name, _tenants.c.id)
)
# Transaction-local, like app.tenant_id: it dies with the request's transaction.
_SET_RLS_USER = text("SELECT set_config('app.user_id', :user, true)")


def memberships_of_user(session, user_id: int) -> list[TenantRole]:
    """Every tenant the user has a role in, before any tenant is bound.

    The one read of ``memberships`` across tenants, so it is Core (the ORM
    scope refuses tenant data without a tenant). On PostgreSQL the policy
    ``own_memberships`` lets a transaction that names its user in
    ``app.user_id`` read that user's rows, and no one else's.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_SET_RLS_USER, {"user": str(user_id)})
    return [TenantRole(*row) for row in connection.execute(_OWN_MEMBERSHIPS, {"user": user_id})]


DEMO_EMAIL = "demo@example.com"


def ensure_demo_login(session, tenant) -> tuple[str, str]:
    """The demo tenant's owner login with a fresh password, as (email, password).

    Like the demo key, a re-run replaces the password: it is shown once.
    """
    password = "demo-" + secrets.token_urlsafe(12)
    user = find_user(session, DEMO_EMAIL) or create_user(session, DEMO_EMAIL)
    set_password(user, password)
    user.email_confirmed_at = user.email_confirmed_at or utcnow()
    add_membership(session, tenant.id, user, OWNER)
    return user.email, password
