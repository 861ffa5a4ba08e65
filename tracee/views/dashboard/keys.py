"""Settings -> API Keys: list, generate (the key shown once), revoke."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import MANAGE_KEYS
from tracee.api.keys import KeyNameInvalid, check_key_name, issue_key, revoke_key, tenant_keys
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import ApiKeyResource, ApiKeysSection, dashboard_path


def _keys_page(context, request, **values):
    keys = tenant_keys(request.db, context.tenant.id)
    return page(context, request, "api_keys", keys=keys, **values)


@view_config(route_name="dashboard", context=ApiKeysSection, permission=MANAGE_KEYS,
             request_method="GET", renderer=TEMPLATES + "api_keys.jinja2")
def list_keys(context, request):
    return _keys_page(context, request)


@view_config(route_name="dashboard", context=ApiKeysSection, name="new",
             permission=MANAGE_KEYS, request_method="GET",
             renderer=TEMPLATES + "api_key_new.jinja2")
def new_key_form(context, request):
    return page(context, request, "api_keys", name="", errors={})


@view_config(route_name="dashboard", context=ApiKeysSection, name="new",
             permission=MANAGE_KEYS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "api_key_new.jinja2")
def generate_key(context, request):
    raw_name = request.POST.get("name", "")
    try:
        name = check_key_name(raw_name)
    except KeyNameInvalid:
        request.response.status = 400
        return page(context, request, "api_keys", name=raw_name[:200], errors={
            "name": "Give the key a name of 1 to 100 characters, e.g. Production Server."})
    issued = issue_key(request.db, context.tenant.id, name)
    # Shown in this answer only (no-store); nothing keeps the secret to show it again.
    request.override_renderer = TEMPLATES + "api_keys.jinja2"
    return _keys_page(context, request, issued=issued)


@view_config(route_name="dashboard", context=ApiKeyResource, name="revoke",
             permission=MANAGE_KEYS, request_method="GET",
             renderer=TEMPLATES + "api_key_revoke.jinja2")
def confirm_revoke(context, request):
    return page(context, request, "api_keys", key=context.key)


@view_config(route_name="dashboard", context=ApiKeyResource, name="revoke",
             permission=MANAGE_KEYS, request_method="POST", require_csrf=True)
def revoke(context, request):
    revoke_key(context.key)
    return HTTPFound(dashboard_path(request, context.tenant.slug, "settings", "api-keys"))
