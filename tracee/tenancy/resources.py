"""Traversal roots: the Host picks the root, the path picks the tracker.

``platform host/track/<token>`` and ``custom domain/track/<token>`` both end
in a :class:`TrackerResource` whose ``__parent__`` chain is
tracker -> tenant -> agency -> platform, so branding and permissions are
found by walking up it (acquisition), not by looking at the URL.
"""

import uuid
from dataclasses import dataclass, fields

from sqlalchemy import bindparam, select

from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant, read_directory_row, rls_tenant_of
from tracee.tenancy.service import DOMAIN_RE, platform_hosts
from tracee.tracking.models import TrackingLink
from tracee.tracking.reads import read_tracker
from tracee.tracking.records import TrackerRecord


class PlatformRoot:
    """The root on the platform's own host: every tenant's trackers resolve."""

    __name__ = ""
    __parent__ = None
    tenant = None

    def __init__(self, request):
        self.request = request

    def __getitem__(self, name):
        if name == "track":
            return TrackerDirectory(self, name, TrackerPage)
        if name == "embed":
            return TrackerDirectory(self, name, EmbedPage)
        raise KeyError(name)

    def owns(self, tenant_id: int) -> bool:
        return True


class DomainRoot(PlatformRoot):
    """The root on a tenant's custom domain: only that tenant's trackers resolve."""

    def __init__(self, request, tenant: Tenant):
        super().__init__(request)
        self.tenant = tenant

    def owns(self, tenant_id: int) -> bool:
        return tenant_id == self.tenant.id


class TenantResource:
    def __init__(self, tenant: "Tenant | TenantView", parent):
        self.tenant = tenant
        self.__name__ = tenant.slug
        self.__parent__ = parent


class TrackerResource:
    def __init__(self, tracker: TrackerRecord, parent: TenantResource):
        self.tracker = tracker
        self.__name__ = str(tracker.tracking_token)
        self.__parent__ = parent

    @property
    def tenant(self) -> "Tenant | TenantView":
        return self.__parent__.tenant


class TrackerPage(TrackerResource):
    """The customer's full tracking page (``/track/<token>``)."""


class EmbedPage(TrackerResource):
    """The compact page made for an iframe (``/embed/<token>/``)."""


@dataclass(frozen=True, slots=True)
class TenantView:
    """What pages need of a tenant, read with its tracking link (see below)."""

    id: int
    slug: str
    name: str
    parent_id: int | None
    logo_url: str | None
    brand_color: str | None
    branding_version: int


def tenant_lineage(request, tenant, platform, agencies=()) -> TenantResource:
    """The tenant's resource with its agencies above it, up to the platform.

    ``agencies`` are the ones already read, nearest first; deeper ones (rare)
    are looked up here.
    """
    chain = [tenant, *agencies]
    while chain[-1].parent_id is not None and len(chain) < 8:
        chain.append(request.db.get(Tenant, chain[-1].parent_id))
    parent = platform
    for link in reversed(chain):
        parent = TenantResource(link, parent)
    return parent


# A link with its tenant's chain (agencies nest at most three deep) in one
# Core query, built once; it also binds RLS to the link's tenant (see
# rls_tenant_of), so the tracker read that follows needs no set_config.
_links, _tenants = TrackingLink.__table__, Tenant.__table__
_agency, _agency_parent = _tenants.alias("agency"), _tenants.alias("agency_parent")
_LINEAGE = (_tenants, _agency, _agency_parent)
_TENANT_FIELDS = [field.name for field in fields(TenantView)]
LINK_WITH_TENANTS = (
    select(
        _links.c.tenant_id,
        _links.c.tracker_id,
        *(table.c[name] for table in _LINEAGE for name in _TENANT_FIELDS),
        rls_tenant_of(_links.c.tenant_id),
    )
    .join_from(_links, _tenants, _tenants.c.id == _links.c.tenant_id)
    .outerjoin(_agency, _agency.c.id == _tenants.c.parent_id)
    .outerjoin(_agency_parent, _agency_parent.c.id == _agency.c.parent_id)
    .where(_links.c.token == bindparam("token"))
)


def _lineage_views(row) -> list[TenantView]:
    """The tenant and the agencies read with it, nearest first."""
    width = len(_TENANT_FIELDS)
    views = []
    for start in range(2, 2 + width * len(_LINEAGE), width):
        values = row[start : start + width]
        if values[0] is None:
            break
        views.append(TenantView(*values))
    return views


class TrackerDirectory:
    def __init__(self, root: PlatformRoot, name: str, page_class):
        self.__parent__ = root
        self.__name__ = name
        self.page_class = page_class

    def __getitem__(self, token):
        root = self.__parent__
        try:
            token = uuid.UUID(token)
        except ValueError:
            raise KeyError(token) from None
        request = root.request
        # Read without an ORM Session unless the page needs one (request.reads).
        found = read_directory_row(request.reads, LINK_WITH_TENANTS, {"token": token})
        if found is None or not root.owns(found.tenant_id):
            raise KeyError(token)
        bind_tenant(request.reads, found.tenant_id)
        tracker = read_tracker(request.reads, found.tracker_id)
        tenant, *agencies = _lineage_views(found)
        return self.page_class(tracker, tenant_lineage(request, tenant, root, agencies))


def root_factory(request):
    """Pick the root by Host: a tenant's custom domain, else the platform."""
    host = (request.host or "").split(":")[0].lower().rstrip(".")
    # Only a well-formed host name is looked up: a NUL byte in a forged Host
    # header would otherwise fail inside PostgreSQL (a 500).
    if DOMAIN_RE.fullmatch(host) and host not in request.registry["platform_hosts"]:
        tenant = request.db.scalar(select(Tenant).where(Tenant.domain == host))
        if tenant is not None:
            return DomainRoot(request, tenant)
    return PlatformRoot(request)


def includeme(config):
    config.registry["platform_hosts"] = platform_hosts(config.get_settings()["tracee.public_url"])
    config.set_root_factory(root_factory)
