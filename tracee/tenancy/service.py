"""Creating and finding tenants; shared by the command line and, later, the dashboard."""

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from tracee.tenancy.models import Tenant
from tracee.text import InvalidName, clean_name

# \Z, not $: "$" also matches before a trailing newline ("abc\n" is no slug).
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_AGENCY_DEPTH = 3


class TenantError(ValueError):
    pass


def find_tenant(session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise TenantError(f"no tenant with slug {slug!r}")
    return tenant


def _depth(session, tenant: Tenant) -> int:
    depth = 1
    while tenant.parent_id is not None:
        tenant = session.get(Tenant, tenant.parent_id)
        depth += 1
    return depth


def validate_branding(color: str | None, logo_url: str | None) -> None:
    if color is not None and not COLOR_RE.fullmatch(color):
        raise TenantError("brand colour must look like #1a2b3c")
    if logo_url is not None:
        parts = urlsplit(logo_url)
        if parts.scheme != "https" or not parts.netloc or len(logo_url) > 2000:
            raise TenantError("logo URL must be an https:// URL of at most 2000 characters")


def create_tenant(
    session, slug: str, name: str, parent: str | None = None, domain: str | None = None,
    color: str | None = None, logo_url: str | None = None,
) -> Tenant:
    if not SLUG_RE.fullmatch(slug) or len(slug) > 63:
        raise TenantError("slug must be lower-case letters, digits and single hyphens (max 63)")
    try:
        name = clean_name(name)
    except InvalidName as exc:
        raise TenantError(f"name {exc}") from None
    if len(name) > 200:
        raise TenantError("name must be at most 200 characters")
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise TenantError(f"a tenant with slug {slug!r} already exists")
    if domain is not None:
        domain = domain.strip().lower().rstrip(".")
        if not DOMAIN_RE.fullmatch(domain):
            raise TenantError(f"{domain!r} is not a valid host name")
        if session.scalar(select(Tenant.id).where(Tenant.domain == domain)) is not None:
            raise TenantError(f"domain {domain!r} already belongs to another tenant")
    validate_branding(color, logo_url)
    parent_tenant = find_tenant(session, parent) if parent is not None else None
    if parent_tenant is not None and _depth(session, parent_tenant) >= MAX_AGENCY_DEPTH:
        raise TenantError(f"agencies nest at most {MAX_AGENCY_DEPTH} levels deep")
    tenant = Tenant(
        slug=slug, name=name, domain=domain, brand_color=color, logo_url=logo_url,
        parent_id=parent_tenant.id if parent_tenant else None,
    )
    session.add(tenant)
    session.flush()
    return tenant
