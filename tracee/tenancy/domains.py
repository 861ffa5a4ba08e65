"""Custom domains: a tenant proves it controls one before Tracee serves it.

A domain asked for is held as ``tenants.pending_domain`` with a random token
the tenant publishes as a TXT record at ``_tracee-challenge.<domain>``;
verifying looks that record up (dnspython, against the resolvers of the
``tracee.domains.resolvers`` setting) and only then makes it
``tenants.domain``, the one the Host root serves (tracee.tenancy.resources)
and the one TLS is issued for. A domain given to ``tracee tenant create
--domain`` by the operator counts as verified.
"""

import secrets
from collections.abc import Collection
from dataclasses import dataclass

import dns.exception
import dns.resolver
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracee.tenancy.models import Tenant
from tracee.tenancy.service import DOMAIN_RE, TenantError, TenantTaken, normalise_domain

CHALLENGE_PREFIX = "_tracee-challenge."
LOOKUP_SECONDS = 3.0


class NotVerified(TenantError):
    """The TXT record is not there (yet). ``reason`` says what the resolver answered
    (one of the constants below) and ``found`` the TXT values it returned, so the
    dashboard can explain it."""

    def __init__(self, message: str, reason: str, found: tuple[str, ...] = ()):
        super().__init__(message, "domain")
        self.reason, self.found = reason, found


# What the lookup came back with.
NOTHING_PENDING, NO_SUCH_NAME, NO_TXT, UNANSWERED, OTHER_VALUES = (
    "nothing_pending", "no_such_name", "no_txt", "unanswered", "other_values")


@dataclass(frozen=True)
class Resolvers:
    """Where verification asks: (address, port) pairs, or the system's resolvers if none."""

    servers: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_setting(cls, value: str) -> "Resolvers":
        servers = []
        for item in value.split():
            host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "53")
            servers.append((host or item, int(port or 53)))
        return cls(tuple(servers))

    def resolver(self) -> dns.resolver.Resolver:
        if not self.servers:
            resolver = dns.resolver.Resolver()
        else:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [host for host, _ in self.servers]
            resolver.nameserver_ports = {host: port for host, port in self.servers}
        resolver.lifetime = LOOKUP_SECONDS
        return resolver


def request_domain(session, tenant_id: int, domain: str,
                   platform_hosts: Collection[str]) -> Tenant:
    """Hold ``domain`` for the tenant until it is verified, with a fresh token."""
    domain = normalise_domain(domain, platform_hosts)
    owner = session.scalar(select(Tenant.id).where(Tenant.domain == domain))
    if owner is not None and owner != tenant_id:
        raise TenantTaken(f"domain {domain!r} already belongs to another tenant", "domain")
    tenant = session.get(Tenant, tenant_id)
    if owner == tenant_id:  # already its verified domain: nothing to prove again
        tenant.pending_domain = tenant.domain_token = None
    else:
        tenant.pending_domain = domain
        tenant.domain_token = secrets.token_urlsafe(32)
    return tenant


def challenge_name(domain: str) -> str:
    return CHALLENGE_PREFIX + domain


def _published_values(resolvers: Resolvers, name: str) -> list[str]:
    try:
        answer = resolvers.resolver().resolve(name, "TXT")
    except dns.resolver.NXDOMAIN:
        raise NotVerified(f"there is no TXT record at {name} yet", NO_SUCH_NAME) from None
    except dns.resolver.NoAnswer:
        raise NotVerified(f"{name} has no TXT record yet", NO_TXT) from None
    except dns.exception.DNSException:  # timeouts, no nameserver answering
        raise NotVerified(f"the TXT record at {name} could not be looked up; retry later",
                          UNANSWERED) from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def verify_domain(session, tenant_id: int, resolvers: Resolvers) -> Tenant:
    """Serve the pending domain if its TXT record holds the token; NotVerified if not."""
    tenant = session.get(Tenant, tenant_id)
    if tenant.pending_domain is None:
        raise NotVerified("no domain is waiting to be verified", NOTHING_PENDING)
    name = challenge_name(tenant.pending_domain)
    published = _published_values(resolvers, name)
    token = tenant.domain_token.encode()
    # As bytes: compare_digest refuses str with non-ASCII, which a TXT record may hold.
    if not any(secrets.compare_digest(value.encode(), token) for value in published):
        raise NotVerified(f"the TXT record at {name} does not hold this tenant's token",
                          OTHER_VALUES, tuple(published))
    domain = tenant.pending_domain
    tenant.domain, tenant.pending_domain, tenant.domain_token = domain, None, None
    try:
        session.flush()
    except IntegrityError:  # another tenant verified it first
        raise TenantTaken(f"domain {domain!r} already belongs to another tenant",
                          "domain") from None
    return tenant


def remove_domain(session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    tenant.domain = tenant.pending_domain = tenant.domain_token = None
    return tenant


def is_verified_domain(session, domain: str) -> bool:
    domain = domain.strip().lower().rstrip(".")
    if not DOMAIN_RE.fullmatch(domain):
        return False
    return session.scalar(select(Tenant.id).where(Tenant.domain == domain)) is not None


def includeme(config):
    from urllib.parse import urlsplit

    settings = config.get_settings()
    config.registry["domains.resolvers"] = Resolvers.from_setting(
        settings["tracee.domains.resolvers"])
    config.registry["domains.cname_target"] = (
        settings["tracee.domains.cname_target"]
        or urlsplit(settings["tracee.public_url"]).hostname or "localhost")
    config.add_route("tls_ask", "/.well-known/tracee/tls-ask")
