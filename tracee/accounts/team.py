"""Changing who is in a tenant: the rules about owners, free of HTTP.

Owners and admins manage the team, but only an owner may make or unmake an
owner, and a tenant always keeps at least one owner.
"""

from sqlalchemy import func, select

from tracee.accounts.models import OWNER, ROLES, Membership
from tracee.accounts.service import AccountError
from tracee.tenancy.scope import bind_tenant


class InvalidRole(AccountError):
    field = "role"


class OwnersOnly(AccountError):
    field = "role"


class LastOwner(AccountError):
    field = "role"


def check_may_grant(role: str, actor_is_owner: bool) -> str:
    if role not in ROLES:
        raise InvalidRole(f"Choose one of: {', '.join(ROLES)}.")
    if role == OWNER and not actor_is_owner:
        raise OwnersOnly("Only an owner can make someone an owner.")
    return role


def _owners(session) -> int:
    return session.scalar(
        select(func.count()).select_from(Membership).where(Membership.role == OWNER))


def _check_touch_owner(session, membership: Membership, actor_is_owner: bool, what: str):
    if membership.role != OWNER:
        return
    if not actor_is_owner:
        raise OwnersOnly(f"Only an owner can {what} an owner.")
    if _owners(session) <= 1:
        raise LastOwner(f"This is the last owner; make someone else an owner before you {what} "
                        "them.")


def change_role(session, membership: Membership, role: str, actor_is_owner: bool) -> None:
    bind_tenant(session, membership.tenant_id)
    check_may_grant(role, actor_is_owner)
    if role == membership.role:
        return
    _check_touch_owner(session, membership, actor_is_owner, "demote")
    membership.role = role
    session.flush()


def remove_member(session, membership: Membership, actor_is_owner: bool) -> None:
    bind_tenant(session, membership.tenant_id)
    _check_touch_owner(session, membership, actor_is_owner, "remove")
    session.delete(membership)
    session.flush()


def find_membership(session, tenant_id: int, user_id: int) -> Membership | None:
    bind_tenant(session, tenant_id)
    return session.get(Membership, (tenant_id, user_id))
