"""Creating and finding tenants; shared by the command line and, later, the dashboard."""

import re
from collections.abc import Collection
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracee.tenancy.models import Tenant
from tracee.text import InvalidName, clean_name

# \Z, not $: "$" also matches before a trailing newline ("abc\n" is no slug).
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_AGENCY_DEPTH = 3


class TenantError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field  # the input at fault, for the API's error


class TenantTaken(TenantError):
    """The slug or the domain belongs to another tenant already."""


def platform_hosts(public_url: str) -> frozenset[str]:
    """The host names the platform answers on itself (tracee.public_url's and loopback)."""
    return frozenset({urlsplit(public_url).hostname or "localhost", "localhost", "127.0.0.1"})


def is_platform_host(domain: str, hosts: Collection[str]) -> bool:
    # Subdomains too: the platform's DNS, cookies and future hosts (api., www.) live there.
    return any(domain == host or domain.endswith("." + host) for host in hosts)


def normalise_domain(domain: str, platform_hosts: Collection[str]) -> str:
    """``domain`` as stored; TenantError if it is no host name or is the platform's."""
    domain = domain.strip().lower().rstrip(".")
    if not DOMAIN_RE.fullmatch(domain):
        raise TenantError(f"{domain!r} is not a valid host name", "domain")
    if is_platform_host(domain, platform_hosts):
        raise TenantError(
            f"{domain!r} is the platform's own host name, not a custom domain", "domain")
    return domain


def find_tenant(session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise TenantError(f"no tenant with slug {slug!r}")
    return tenant


def agency_depth(session, tenant: Tenant) -> int:
    """1 for a tenant on its own, 2 for a client of an agency, ..."""
    depth = 1
    while tenant.parent_id is not None:
        tenant = session.get(Tenant, tenant.parent_id)
        depth += 1
    return depth


def validate_branding(color: str | None, logo_url: str | None) -> None:
    if color is not None and not COLOR_RE.fullmatch(color):
        raise TenantError("brand colour must look like #1a2b3c")
    if logo_url is not None:
        try:
            parts = urlsplit(logo_url)
        except ValueError:  # e.g. an unclosed IPv6 bracket: "https://[::1"
            parts = None
        if parts is None or parts.scheme != "https" or not parts.netloc or len(logo_url) > 2000:
            raise TenantError("logo URL must be an https:// URL of at most 2000 characters")


def _violates(exc: IntegrityError, column: str) -> bool:
    """Whether the unique constraint on tenants.<column> refused the row
    (PostgreSQL names the constraint, SQLite the column)."""
    message = str(exc.orig)
    return f"uq_tenants_{column}" in message or f"tenants.{column}" in message


def create_tenant(
    session, slug: str, name: str, parent: str | None = None, domain: str | None = None,
    color: str | None = None, logo_url: str | None = None, *,
    platform_hosts: Collection[str],
) -> Tenant:
    """A new tenant; ``platform_hosts`` (see :func:`platform_hosts`) can be no tenant's domain.

    Raises TenantError, also when a concurrent create takes the slug or the
    domain first (the unique constraints decide); the caller rolls back.
    """
    if not SLUG_RE.fullmatch(slug) or len(slug) > 63:
        raise TenantError("slug must be lower-case letters, digits and single hyphens (max 63)",
                          "slug")
    try:
        name = clean_name(name)
    except InvalidName as exc:
        raise TenantError(f"name {exc}", "name") from None
    if len(name) > 200:
        raise TenantError("name must be at most 200 characters", "name")
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise TenantTaken(f"a tenant with slug {slug!r} already exists", "slug")
    if domain is not None:
        domain = normalise_domain(domain, platform_hosts)
        if session.scalar(select(Tenant.id).where(Tenant.domain == domain)) is not None:
            raise TenantTaken(f"domain {domain!r} already belongs to another tenant", "domain")
    validate_branding(color, logo_url)
    parent_tenant = find_tenant(session, parent) if parent is not None else None
    if parent_tenant is not None and agency_depth(session, parent_tenant) >= MAX_AGENCY_DEPTH:
        raise TenantError(f"agencies nest at most {MAX_AGENCY_DEPTH} levels deep", "parent")
    tenant = Tenant(
        slug=slug, name=name, domain=domain, brand_color=color, logo_url=logo_url,
        parent_id=parent_tenant.id if parent_tenant else None,
    )
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError as exc:
        # The checks above ran before a concurrent create committed the same
        # slug or domain; the unique constraint caught it.
        if _violates(exc, "domain"):
            raise TenantTaken(
                f"domain {domain!r} already belongs to another tenant", "domain") from None
        if _violates(exc, "slug"):
            raise TenantTaken(f"a tenant with slug {slug!r} already exists", "slug") from None
        raise
    return tenant
