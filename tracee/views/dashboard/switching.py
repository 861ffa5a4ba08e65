"""Between an agency and its clients: the breadcrumb, the tenant switcher, the Clients item.

A client's pages are /dashboard/<client slug>/...; the traversal tree hangs
the client's area below its agency's (tracee.views.dashboard.resources), and
what a page shows of the agency is read from that tree. An area's ``__acl__``
is empty unless the user has a role there, so a client's own members, who
have none above it, never see the agency's name.
"""

from dataclasses import dataclass

from tracee.accounts.permissions import EDIT_SETTINGS
from tracee.tenancy.clients import has_clients, may_have_clients, tenants_below
from tracee.views.dashboard.resources import TenantArea


def agency_trail(area: TenantArea) -> list[TenantArea]:
    """The agencies above ``area``, from the highest one the user has a role in down
    to the client's own agency; empty for a member of this tenant only."""
    above, node = [], area.__parent__
    while isinstance(node, TenantArea):
        above.append(node)
        node = node.__parent__
    reached = [i for i, agency in enumerate(above) if agency.__acl__]
    return above[: reached[-1] + 1][::-1] if reached else []


@dataclass(frozen=True, slots=True)
class Switch:
    """One entry of the tenant switcher."""

    tenant_id: int
    slug: str
    name: str
    level: int  # 0: where the user has a role, 1: a client of it, ...
    agency: str | None  # the name of the tenant it is listed under


def switch_entries(request) -> list[Switch]:
    """The user's tenants and every client below them, each client under its agency,
    by name: what the switcher lists, agencies' clients included."""
    memberships = request.login.memberships
    tenants = {m.tenant_id: (m.slug, m.name, m.parent_id) for m in memberships}
    for tenant in tenants_below(request.db, list(tenants)):
        tenants[tenant.id] = (tenant.slug, tenant.name, tenant.parent_id)
    below: dict[int | None, list[int]] = {}
    for tenant_id, (*_slug_and_name, parent_id) in tenants.items():
        # A tenant whose agency the user does not reach is listed at the top.
        below.setdefault(parent_id if parent_id in tenants else None, []).append(tenant_id)
    entries: list[Switch] = []

    def add(parent_id, level):
        for tenant_id in sorted(below.get(parent_id, ()), key=lambda t: (tenants[t][1], t)):
            slug, name, _parent = tenants[tenant_id]
            agency = tenants[parent_id][1] if parent_id is not None else None
            entries.append(Switch(tenant_id, slug, name, level, agency))
            add(tenant_id, level + 1)

    add(None, 0)
    return entries


def shows_clients(area: TenantArea, request) -> bool:
    """The Clients item: for a tenant with clients, and for an owner or admin of one
    that may get its first (creating it makes the tenant an agency)."""
    db = request.db
    if request.has_permission(EDIT_SETTINGS, area) and may_have_clients(db, area.tenant):
        return True
    return has_clients(db, area.tenant.id)


def agency_navigation(area: TenantArea, request) -> dict:
    """What the layout shows of agencies and clients, for ``pages.page``."""
    return {
        "agency_trail": agency_trail(area),
        "switch_to": switch_entries(request),
        "show_clients": shows_clients(area, request),
    }
