"""A business signs up: its owner's user, its tenant, the owner membership."""

import re
import unicodedata

from sqlalchemy import select

from tracee.accounts.models import OWNER, User
from tracee.accounts.passwords import PasswordRejected, check_new_password
from tracee.accounts.service import (
    AccountError,
    add_membership,
    create_user,
    normalize_email,
)
from tracee.tenancy.models import Tenant
from tracee.tenancy.service import SLUG_RE, TenantError, create_tenant
from tracee.text import InvalidName, clean_name

OPEN, INVITE, CLOSED = "open", "invite", "closed"
SLUG_MAX = 63


class SignupInvalid(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def slug_from(name: str) -> str:
    """``Ann's 3D Prints!`` -> ``anns-3d-prints``; accents folded, at most 63 characters."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower().replace("'", "")).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or "shop"


def free_slug(session, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever no tenant has yet."""
    taken = set(session.scalars(select(Tenant.slug).where(Tenant.slug.startswith(base))))
    if base not in taken:
        return base
    for n in range(2, 10_000):
        candidate = f"{base[: SLUG_MAX - len(str(n)) - 1]}-{n}"
        if candidate not in taken:
            return candidate
    raise TenantError("no free address is left for this name; choose one")


def sign_up(session, business_name: str, email: str, password: str,
            slug: str = "", *, platform_hosts) -> tuple[User, Tenant]:
    """Create the owner and the business, or raise SignupInvalid naming every bad field."""
    errors = {}
    try:
        name = clean_name(business_name)
        if len(name) > 200:
            raise InvalidName("must be at most 200 characters")
    except InvalidName as exc:
        errors["business_name"] = f"Enter your business's name: it {exc}."
    try:
        email = normalize_email(email)
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            errors["email"] = "An account with this email already exists. Log in instead."
    except AccountError as exc:
        errors["email"] = str(exc)
    try:
        check_new_password(password, email)
    except PasswordRejected as exc:
        errors["password"] = str(exc)
    slug = slug.strip().lower()
    if slug and (len(slug) > SLUG_MAX or not SLUG_RE.fullmatch(slug)):
        errors["slug"] = "Use lower-case letters, digits and single hyphens."
    elif slug and session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        errors["slug"] = "This address is taken; choose another."
    if errors:
        raise SignupInvalid(errors)
    tenant = create_tenant(session, slug or free_slug(session, slug_from(name)), name,
                           platform_hosts=platform_hosts)
    user = create_user(session, email, password)
    add_membership(session, tenant.id, user, OWNER)
    return user, tenant
