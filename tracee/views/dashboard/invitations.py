"""Following an invitation's link: a new person sets a password, an existing
user (logged in as the invited address) accepts."""

from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config
from sqlalchemy import select

from tracee.accounts.invitations import accept, accept_as_new_user, find_invitation
from tracee.accounts.passwords import PasswordRejected
from tracee.accounts.service import AccountError, find_user
from tracee.accounts.sessions import start_session
from tracee.accounts.signup import CLOSED
from tracee.tenancy.models import Tenant
from tracee.tenancy.service import SLUG_RE

TEMPLATE = "tracee:templates/dashboard/invitation.jinja2"


def _open(request):
    """(tenant, invitation) for the link, or (None, None) if it does not work."""
    slug, token = request.matchdict["slug"], request.matchdict["token"]
    if len(slug) > 63 or not SLUG_RE.fullmatch(slug):
        return None, None
    tenant = request.db.scalar(select(Tenant).where(Tenant.slug == slug))
    invitation = find_invitation(request.db, tenant.id, token) if tenant else None
    return (tenant, invitation) if invitation else (None, None)


def _values(request, tenant, invitation, errors=None):
    """What the page shows: which of the ways to accept applies to this visitor."""
    existing = find_user(request.db, invitation.email)
    login = request.login
    if existing is not None:
        mode = "accept" if login is not None and login.user.id == existing.id else "log_in"
    else:
        mode = "closed" if request.registry["signup"] == CLOSED else "new"
    return {"valid": True, "mode": mode, "tenant": tenant, "invitation": invitation,
            "errors": errors or {}, "login": login,
            "login_link": "/login?" + urlencode({"next": request.path_info})}


def _gone(request):
    request.response.status = 404
    return {"valid": False}


@view_config(route_name="invitation", request_method="GET", renderer=TEMPLATE)
def show(request):
    tenant, invitation = _open(request)
    if invitation is None:
        return _gone(request)
    return _values(request, tenant, invitation)


@view_config(route_name="invitation", request_method="POST", require_csrf=True,
             renderer=TEMPLATE)
def take(request):
    tenant, invitation = _open(request)
    if invitation is None:
        return _gone(request)
    values = _values(request, tenant, invitation)
    landing = HTTPFound(f"/dashboard/{tenant.slug}/trackers/")
    if values["mode"] == "accept":
        if accept(request.db, invitation, request.login.user) is None:
            return _gone(request)
        return landing
    if values["mode"] != "new":
        request.response.status = 403  # log in first, or (closed) no accounts from links
        return values
    try:
        user = accept_as_new_user(request.db, invitation, request.POST.get("password", ""))
    except (PasswordRejected, AccountError) as exc:
        request.response.status = 400  # rolls back the user with everything else
        return _values(request, tenant, invitation, {"password": str(exc)})
    if user is None:
        return _gone(request)
    start_session(request, landing, user)
    return landing
