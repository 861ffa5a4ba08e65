"""Traversal roots: the Host picks the root, the path picks the tracker.

``platform host/track/<token>`` and ``custom domain/track/<token>`` both end
in a :class:`TrackerResource` whose ``__parent__`` chain is
tracker -> tenant -> agency -> platform, so branding and permissions are
found by walking up it (acquisition), not by looking at the URL.
"""

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant
from tracee.tenancy.service import DOMAIN_RE
from tracee.tracking.models import TrackingLink
from tracee.tracking.reads import TrackerView, read_tracker


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
    def __init__(self, tenant: Tenant, parent):
        self.tenant = tenant
        self.__name__ = tenant.slug
        self.__parent__ = parent


class TrackerResource:
    def __init__(self, tracker: TrackerView, parent: TenantResource):
        self.tracker = tracker
        self.__name__ = str(tracker.tracking_token)
        self.__parent__ = parent

    @property
    def tenant(self) -> Tenant:
        return self.__parent__.tenant


class TrackerPage(TrackerResource):
    """The customer's full tracking page (``/track/<token>``)."""


class EmbedPage(TrackerResource):
    """The compact page made for an iframe (``/embed/<token>/``)."""


def tenant_lineage(request, tenant: Tenant, platform) -> TenantResource:
    """The tenant's resource with its agencies above it, up to the platform."""
    chain = [tenant]
    while chain[-1].parent_id is not None and len(chain) < 8:
        chain.append(request.db.get(Tenant, chain[-1].parent_id))
    parent = platform
    for link in reversed(chain):
        parent = TenantResource(link, parent)
    return parent


# A link with its tenant's chain (agencies nest at most three deep), in one
# query; built once, as building it took longer than running it.
_agency, _agency_parent = aliased(Tenant), aliased(Tenant)
LINK_WITH_TENANTS = (
    select(TrackingLink, Tenant, _agency, _agency_parent)
    .join(Tenant, Tenant.id == TrackingLink.tenant_id)
    .outerjoin(_agency, _agency.id == Tenant.parent_id)
    .outerjoin(_agency_parent, _agency_parent.id == _agency.parent_id)
    .where(TrackingLink.token == bindparam("token"))
)


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
        # The agencies land in the session: tenant_lineage finds them there.
        found = request.db.execute(LINK_WITH_TENANTS, {"token": token}).first()
        if found is None or not root.owns(found[0].tenant_id):
            raise KeyError(token)
        link, tenant = found[0], found[1]
        bind_tenant(request.db, link.tenant_id)
        tracker = read_tracker(request.db, link.tracker_id)
        return self.page_class(tracker, tenant_lineage(request, tenant, root))


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
    from urllib.parse import urlsplit

    settings = config.get_settings()
    public_host = urlsplit(settings["tracee.public_url"]).hostname or "localhost"
    config.registry["platform_hosts"] = {public_host, "localhost", "127.0.0.1"}
    config.set_root_factory(root_factory)
