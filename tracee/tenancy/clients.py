"""An agency acting for one of its clients: which tenant a request is for.

A tenant with tenants below it (``parent_id``) is an agency. Its key may name
a client anywhere below it; the client's own key may name only itself.
"""

from sqlalchemy import bindparam, case, func, or_, select

from tracee.tenancy.domains import request_domain
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import read_directory_row, rls_tenant_of, visiting
from tracee.tenancy.service import MAX_AGENCY_DEPTH, SLUG_RE, agency_depth, create_tenant
from tracee.tracking.models import Tracker

_tenants = Tenant.__table__


def _client_lookup():
    """The tenant named by slug, if it is the acting tenant or lies below it.

    One Core query built once: the named tenant joined to its agencies (they
    nest at most MAX_AGENCY_DEPTH deep), kept only when the acting tenant is
    one of them. Its rls_tenant_of column binds row-level security to the
    client as it is read, so acting for a client costs this one round trip.
    """
    ancestors, joined, parent = [], _tenants, _tenants
    for level in range(1, MAX_AGENCY_DEPTH):
        above = _tenants.alias(f"above_{level}")
        joined = joined.outerjoin(above, above.c.id == parent.c.parent_id)
        ancestors.append(above.c.id)
        parent = above
    acting = bindparam("acting")
    return (
        select(_tenants.c.id, rls_tenant_of(_tenants.c.id))
        .select_from(joined)
        .where(_tenants.c.slug == bindparam("slug"),
               or_(_tenants.c.id == acting, *(column == acting for column in ancestors)))
    )


_CLIENT = _client_lookup()


def client_tenant(session, acting_tenant_id: int, slug: str) -> int | None:
    """The id of the tenant ``slug`` if ``acting_tenant_id`` may act for it, else None."""
    if not SLUG_RE.fullmatch(slug) or len(slug) > 63:
        return None  # names no tenant; never reaches the database
    row = read_directory_row(session, _CLIENT, {"slug": slug, "acting": acting_tenant_id})
    return None if row is None else row.id


_trackers = Tracker.__table__
_ACTIVITY = select(
    func.coalesce(func.sum(case((_trackers.c.completed_at.is_(None), 1), else_=0)), 0),
    func.max(_trackers.c.updated_at),
).where(_trackers.c.tenant_id == bindparam("tenant"))


def list_clients(session, agency_id: int, slug: str | None = None) -> list[tuple]:
    """The agency's direct clients, oldest first, each with its open trackers and
    the time of its latest change (None before its first tracker); ``slug``
    keeps the one client of that slug.

    Each client's figures are read bound to that client, as row-level
    security requires: one tenant's rows per statement.
    """
    query = select(Tenant).where(Tenant.parent_id == agency_id).order_by(Tenant.id)
    if slug is not None:
        query = query.where(Tenant.slug == slug)
    clients = session.scalars(query).all()
    listed = []
    for client in clients:
        with visiting(session, client.id):
            open_trackers, last_activity = session.connection().execute(
                _ACTIVITY, {"tenant": client.id}).one()
        listed.append((client, int(open_trackers), last_activity))
    return listed


def create_client(session, agency: Tenant, slug: str, name: str, domain: str | None, *,
                  platform_hosts) -> Tenant:
    """A client below ``agency``, under ``create_tenant``'s rules; a ``domain`` given is
    held until verified (tracee.tenancy.domains). TenantError names the field at fault."""
    tenant = create_tenant(session, slug, name, parent=agency.slug,
                           platform_hosts=platform_hosts)
    if domain is not None:
        request_domain(session, tenant.id, domain, platform_hosts)
    return tenant


def may_have_clients(session, tenant: Tenant) -> bool:
    """Whether a client may be created below ``tenant`` (agencies nest MAX_AGENCY_DEPTH deep)."""
    return agency_depth(session, tenant) < MAX_AGENCY_DEPTH


def has_clients(session, tenant_id: int) -> bool:
    return session.scalar(
        select(Tenant.id).where(Tenant.parent_id == tenant_id).limit(1)) is not None


def tenants_below(session, tenant_ids) -> list[Tenant]:
    """Every tenant below any of ``tenant_ids``, at any depth (agencies nest at most
    MAX_AGENCY_DEPTH deep: one query per level, none past the last that found any)."""
    found, level = [], list(tenant_ids)
    for _ in range(MAX_AGENCY_DEPTH - 1):
        if not level:
            break
        below = session.scalars(
            select(Tenant).where(Tenant.parent_id.in_(level)).order_by(Tenant.name, Tenant.id)
        ).all()
        found.extend(below)
        level = [tenant.id for tenant in below]
    return found
