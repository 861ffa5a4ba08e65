"""The dashboard's traversal tree: /dashboard/<tenant slug>/<section>/...

``DashboardRoot`` finds the tenant by slug and, as it does, builds the
lineage tenant -> agency -> ... with each level's ACL taken from the user's
membership there (see tracee.accounts.permissions). A tenant the user has no
role in, on itself or on an agency above it, is not found: 404, the same as
a slug that does not exist.
"""

from pyramid.authorization import Allow, Authenticated
from pyramid.httpexceptions import HTTPFound
from sqlalchemy import select

from tracee.accounts import two_factor
from tracee.accounts.invitations import find_pending
from tracee.accounts.models import Invitation, Membership
from tracee.accounts.permissions import acl_for
from tracee.accounts.team import find_membership
from tracee.api.keys import ApiKey, find_tenant_key
from tracee.branding.page_templates import KINDS
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant
from tracee.tenancy.service import SLUG_RE
from tracee.tracking.builtin_templates import TemplateSpec
from tracee.tracking.reads import read_tracker
from tracee.tracking.records import TrackerRecord
from tracee.tracking.templates import find_template
from tracee.webhooks.endpoints import find_endpoint
from tracee.webhooks.models import WebhookEndpoint

ENTER = "enter"  # the root's own view: any logged-in user, to be sent to a tenant
# What only the dashboard's pages send: scripts from our origin (no inline ones),
# and nothing kept by caches, since pages may show a key once.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _dashboard_headers(request, response):
    # Callbacks run after the tweens, so this replaces tracee.headers' page policy.
    response.headers["Content-Security-Policy"] = getattr(request, "dashboard_csp", DASHBOARD_CSP)
    # Only a view that sets it (a QR image) is kept by the browser: pages may show a key once.
    response.headers["Cache-Control"] = getattr(request, "dashboard_cache_control", "no-store")
    response.headers.update(getattr(request, "dashboard_headers", {}))  # a page's own (preview)


class DashboardRoot:
    __name__ = ""
    __parent__ = None
    __acl__ = [(Allow, Authenticated, ENTER)]

    def __init__(self, request):
        self.request = request
        request.add_response_callback(_dashboard_headers)

    def __getitem__(self, slug):
        login = self.request.login
        if login is None or len(slug) > 63 or not SLUG_RE.fullmatch(slug):
            raise KeyError(slug)
        db = self.request.db
        tenant = db.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise KeyError(slug)
        chain = [tenant]
        while chain[-1].parent_id is not None and len(chain) < 8:
            chain.append(db.get(Tenant, chain[-1].parent_id))
        if not any(login.role_in(t.id) for t in chain):
            raise KeyError(slug)
        if any(t.require_two_factor for t in chain) and not two_factor.enabled(login.user):
            # An owner here (or at an agency above) asks everyone for two-factor.
            raise HTTPFound("/account/two-factor?required=1")
        parent = self
        for level in reversed(chain):
            parent = TenantArea(level, parent, acl_for(login.user.id, login.role_in(level.id)), db)
        bind_tenant(db, tenant.id)
        return parent


class AccountRoot:
    """/account/...: the logged-in person's own account, outside every tenant."""

    __name__ = ""
    __parent__ = None
    __acl__ = [(Allow, Authenticated, ENTER)]

    def __init__(self, request):
        request.add_response_callback(_dashboard_headers)

    def __getitem__(self, name):
        raise KeyError(name)  # every segment is a view name


class Node:
    """A resource below a tenant; ``children`` maps a path segment to a class."""

    children: dict = {}

    def __init__(self, name, parent):
        self.__name__, self.__parent__ = name, parent

    def __getitem__(self, name):
        return self.children[name](name, self)

    @property
    def area(self) -> "TenantArea":
        node = self
        while not isinstance(node, TenantArea):
            node = node.__parent__
        return node

    @property
    def tenant(self) -> Tenant:
        return self.area.tenant


MAX_ID = 2**31 - 1


def as_id(name: str) -> int | None:
    """A path segment that is a plain id (ASCII digits, in range), else None."""
    if name.isascii() and name.isdigit() and len(name) <= 10 and int(name) <= MAX_ID:
        return int(name)
    return None


class Item(Node):
    """One row below a section (a tracker, a key), read as the path names it."""

    def __init__(self, name, parent, record):
        super().__init__(name, parent)
        self.record = record


class Collection(Node):
    """A section whose children are its tenant's rows, by id; other names are not found."""

    item_class = Item

    def load(self, item_id: int):
        raise NotImplementedError

    def __getitem__(self, name):
        item_id = as_id(name)
        record = self.load(item_id) if item_id else None
        if record is None:
            raise KeyError(name)
        return self.item_class(name, self, record)


class TrackerNode(Item):
    @property
    def tracker(self) -> TrackerRecord:
        return self.record


class TrackersSection(Collection):
    item_class = TrackerNode

    def load(self, item_id):
        return read_tracker(self.area.request_db, item_id)


class ApiKeyResource(Item):
    @property
    def key(self) -> ApiKey:
        return self.record


class ApiKeysSection(Collection):
    item_class = ApiKeyResource

    def load(self, item_id):
        return find_tenant_key(self.area.request_db, self.tenant.id, item_id)


class WebhookResource(Item):
    @property
    def endpoint(self) -> WebhookEndpoint:
        return self.record


class WebhooksSection(Collection):
    item_class = WebhookResource

    def load(self, item_id):
        return find_endpoint(self.area.request_db, item_id)


class MemberResource(Item):
    @property
    def membership(self) -> Membership:
        return self.record


class MembersSection(Collection):
    item_class = MemberResource

    def load(self, item_id):
        return find_membership(self.area.request_db, self.tenant.id, item_id)


class InvitationResource(Item):
    @property
    def invitation(self) -> Invitation:
        return self.record


class InvitationsSection(Collection):
    """Named by the stored hash of the token (never the token itself)."""

    item_class = InvitationResource

    def __getitem__(self, name):
        record = find_pending(self.area.request_db, self.tenant.id, name)
        if record is None:
            raise KeyError(name)
        return self.item_class(name, self, record)


class TeamSection(Node):
    children = {"members": MembersSection, "invitations": InvitationsSection}


class TemplateNode(Item):
    @property
    def template(self) -> TemplateSpec:
        return self.record


class TemplatesSection(Node):
    """Templates by slug, built-in or the tenant's own; ``new`` is the form, never a slug."""

    def __getitem__(self, name):
        if name == "new" or len(name) > 63 or not SLUG_RE.fullmatch(name):
            raise KeyError(name)
        spec = find_template(self.area.request_db, name)
        if spec is None:
            raise KeyError(name)
        return TemplateNode(name, self, spec)


class BrandingSection(Node):
    pass


class AnalyticsSection(Node):
    pass


class PageTemplateNode(Node):
    """A tenant's own template of one kind of page (``tracking`` or ``embed``)."""

    @property
    def kind(self) -> str:
        return self.__name__


class PageTemplatesSection(Node):
    children = {kind: PageTemplateNode for kind in KINDS}


class DomainSection(Node):
    """Settings -> Domain: views only (the form, verify, remove)."""


class ClientsSection(Node):
    """An agency's clients: views only; a client itself is reached at /dashboard/<its slug>/."""


class MessagesSection(Node):
    """The inbox of customers' questions (tracee.views.dashboard.messages)."""


class SettingsSection(Node):
    children = {
        "api-keys": ApiKeysSection, "team": TeamSection,
        "workflow-templates": TemplatesSection, "branding": BrandingSection,
        "webhooks": WebhooksSection,
        "page-templates": PageTemplatesSection,
        "domain": DomainSection,
    }


class TenantArea(Node):
    children = {"trackers": TrackersSection, "settings": SettingsSection,
                "analytics": AnalyticsSection, "clients": ClientsSection,
                "messages": MessagesSection}
    tenant = None  # set per instance (below), in place of Node's property

    def __init__(self, tenant: Tenant, parent, acl: list, request_db):
        super().__init__(tenant.slug, parent)
        self.tenant, self.__acl__, self.request_db = tenant, acl, request_db

    @property
    def area(self):
        return self


def dashboard_path(request, tenant_slug: str, *segments: str) -> str:
    return request.route_path("dashboard", traverse=(tenant_slug, *segments, ""))
