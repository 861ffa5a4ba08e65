"""The dashboard's pages that only read: where to go, trackers, settings."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import MANAGE_KEYS, MANAGE_TEAM, VIEW
from tracee.views.dashboard.resources import (
    ENTER,
    DashboardRoot,
    Node,
    SettingsSection,
    TenantArea,
    dashboard_path,
)
from tracee.views.dashboard.switching import agency_navigation

TEMPLATES = "tracee:templates/dashboard/"


def page(context: Node, request, active: str, **values) -> dict:
    """What the layout needs, beside the page's own ``values``."""
    slug = context.tenant.slug
    return {
        "area": context.area,
        "login": request.login,
        "active": active,
        "links": {
            "trackers": dashboard_path(request, slug, "trackers"),
            "analytics": dashboard_path(request, slug, "analytics"),
            "messages": dashboard_path(request, slug, "messages"),
            "settings": dashboard_path(request, slug, "settings"),
            "api_keys": dashboard_path(request, slug, "settings", "api-keys"),
            "team": dashboard_path(request, slug, "settings", "team"),
            "templates": dashboard_path(request, slug, "settings", "workflow-templates"),
            "branding": dashboard_path(request, slug, "settings", "branding"),
            "webhooks": dashboard_path(request, slug, "settings", "webhooks"),
            "page_templates": dashboard_path(request, slug, "settings", "page-templates"),
            "domain": dashboard_path(request, slug, "settings", "domain"),
            "clients": dashboard_path(request, slug, "clients"),
        },
        **agency_navigation(context.area, request),
        "can": lambda permission: bool(request.has_permission(permission, context)),
        **values,
    }


def sentence(message) -> str:
    """A domain error ("slug must be ...") as the sentence shown beside its field."""
    text = str(message)
    return text[:1].upper() + text[1:] + "."


@view_config(route_name="dashboard_bare")
def bare(request):
    return HTTPFound("/dashboard/")


@view_config(route_name="dashboard", context=DashboardRoot, permission=ENTER,
             renderer=TEMPLATES + "no_tenants.jinja2")
def home(context, request):
    memberships = request.login.memberships
    if memberships:
        return HTTPFound(dashboard_path(request, memberships[0].slug, "trackers"))
    return {"login": request.login}


@view_config(route_name="dashboard", context=TenantArea, permission=VIEW)
def tenant_home(context, request):
    return HTTPFound(dashboard_path(request, context.tenant.slug, "trackers"))


@view_config(route_name="dashboard", context=SettingsSection, permission=VIEW,
             renderer=TEMPLATES + "settings.jinja2")
def settings(context, request):
    return page(context, request, "settings", MANAGE_KEYS=MANAGE_KEYS, MANAGE_TEAM=MANAGE_TEAM)
