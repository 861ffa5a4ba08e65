"""Clients: an agency's client tenants, and "New client".

The list is the API's (tracee.tenancy.clients.list_clients); creating one is
the API's create_client. Every member of the agency sees the list (their role
reaches each client's pages); owners and admins create clients, as the
agency's API keys may. A client's own pages are /dashboard/<client slug>/.
"""

from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_SETTINGS, VIEW
from tracee.accounts.signup import free_slug, slug_from
from tracee.tenancy.clients import create_client, list_clients, may_have_clients
from tracee.tenancy.service import MAX_AGENCY_DEPTH, TenantError, TenantTaken
from tracee.views.dashboard.pages import TEMPLATES, page, sentence
from tracee.views.dashboard.resources import ClientsSection, dashboard_path

FORM = TEMPLATES + "client_new.jinja2"
FIELDS = ("name", "slug", "domain")
TOO_DEEP = (f"Agencies nest at most {MAX_AGENCY_DEPTH} levels deep: this business is a "
            "client's client already and cannot have clients of its own.")


@view_config(route_name="dashboard", context=ClientsSection, permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "clients.jinja2")
def list_view(context, request):
    clients = list_clients(request.db, context.tenant.id)
    created = request.GET.get("created")
    return page(context, request, "clients", clients=clients,
                created=next((c for c, *_ in clients if c.slug == created), None),
                can_create=bool(request.has_permission(EDIT_SETTINGS, context))
                and may_have_clients(request.db, context.tenant))


def _form(context, request, values: dict, errors: dict) -> dict:
    if not may_have_clients(request.db, context.tenant):
        errors = {"form": TOO_DEEP, **errors}
    return page(context, request, "clients", values=values, errors=errors)


@view_config(route_name="dashboard", context=ClientsSection, name="new",
             permission=EDIT_SETTINGS, request_method="GET", renderer=FORM)
def new_client_form(context, request):
    return _form(context, request, dict.fromkeys(FIELDS, ""), {})


@view_config(route_name="dashboard", context=ClientsSection, name="new",
             permission=EDIT_SETTINGS, request_method="POST", require_csrf=True,
             renderer=FORM)
def new_client(context, request):
    values = {k: request.POST.get(k, "")[:1000] for k in FIELDS}
    slug = values["slug"].strip().lower()
    domain = values["domain"].strip() or None
    try:
        # Left empty (or without JavaScript): the name's own slug, numbered if taken.
        client = create_client(
            request.db, context.tenant, slug or free_slug(request.db, slug_from(values["name"])),
            values["name"], domain, platform_hosts=request.registry["platform_hosts"])
    except TenantError as exc:
        request.response.status = 409 if isinstance(exc, TenantTaken) else 400
        field = exc.field if exc.field in FIELDS else "form"
        return _form(context, request, values, {field: sentence(exc)})
    # Back to the list, which names the new client: one click switches into it.
    return HTTPFound(dashboard_path(request, context.tenant.slug, "clients")
                     + "?" + urlencode({"created": client.slug}))
