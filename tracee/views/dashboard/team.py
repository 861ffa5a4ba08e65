"""Settings -> Team: members and their roles, invitations by mail."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts import mails, two_factor
from tracee.accounts.invitations import invitation_link, invite, pending_invitations, revoke
from tracee.accounts.models import OWNER, ROLES, User
from tracee.accounts.permissions import MANAGE_OWNERS, MANAGE_TEAM
from tracee.accounts.service import AccountError, tenant_members
from tracee.accounts.team import change_role, check_may_grant, remove_member
from tracee.mail import send_after_commit
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import (
    InvitationResource,
    MemberResource,
    TeamSection,
    dashboard_path,
)

TEAM = TEMPLATES + "team.jinja2"


def _is_owner(context, request) -> bool:
    return bool(request.has_permission(MANAGE_OWNERS, context))


def _team_page(context, request, errors=None, values=None, status=200):
    request.response.status = status
    owner = _is_owner(context, request)
    return page(
        context, request, "team",
        members=tenant_members(request.db, context.tenant.id),
        invitations=pending_invitations(request.db, context.tenant.id),
        grantable=[r for r in ROLES if owner or r != OWNER], is_owner=owner, OWNER=OWNER,
        errors=errors or {}, values=values or {"email": "", "role": "staff"},
        notice=request.GET.get("done"),
    )


def _team(context) -> TeamSection:
    node = context
    while not isinstance(node, TeamSection):
        node = node.__parent__
    return node


def _back(request, context, done: str):
    path = dashboard_path(request, context.tenant.slug, "settings", "team")
    return HTTPFound(f"{path}?done={done}")


@view_config(route_name="dashboard", context=TeamSection, permission=MANAGE_TEAM,
             request_method="GET", renderer=TEAM)
def team(context, request):
    return _team_page(context, request)


@view_config(route_name="dashboard", context=TeamSection, name="invite",
             permission=MANAGE_TEAM, request_method="POST", require_csrf=True, renderer=TEAM)
def send_invitation(context, request):
    values = {"email": request.POST.get("email", "").strip()[:320],
              "role": request.POST.get("role", "")[:20]}
    try:
        role = check_may_grant(values["role"], _is_owner(context, request))
        token = invite(request.db, context.tenant.id, values["email"], role, request.login.user)
    except AccountError as exc:
        errors = {exc.field or "email": str(exc)}
        if not values["email"]:
            errors = {"email": "Enter the email of the person to invite."}
        return _team_page(context, request, errors, values, 400)
    tenant = context.tenant
    link = invitation_link(request.urls.base, tenant.slug, token)
    send_after_commit(request, mails.invitation(
        values["email"].lower(), tenant.name, request.login.user.email, role, link))
    return _back(request, context, "invited")


@view_config(route_name="dashboard", context=MemberResource, name="role",
             permission=MANAGE_TEAM, request_method="POST", require_csrf=True, renderer=TEAM)
def set_role(context, request):
    try:
        change_role(request.db, context.membership, request.POST.get("role", "")[:20],
                    _is_owner(context, request))
    except AccountError as exc:
        key = f"member-{context.membership.user_id}"
        return _team_page(_team(context), request, {key: str(exc)}, status=400)
    return _back(request, context, "role")


@view_config(route_name="dashboard", context=MemberResource, name="remove",
             permission=MANAGE_TEAM, request_method="GET",
             renderer=TEMPLATES + "member_remove.jinja2")
def confirm_remove(context, request):
    return _remove_page(context, request)


def _remove_page(context, request, error=None):
    user = request.db.get(User, context.membership.user_id)
    return page(context, request, "team", member=user, membership=context.membership,
                error=error, team_link=dashboard_path(request, context.tenant.slug,
                                                      "settings", "team"))


@view_config(route_name="dashboard", context=MemberResource, name="remove",
             permission=MANAGE_TEAM, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "member_remove.jinja2")
def remove(context, request):
    try:
        remove_member(request.db, context.membership, _is_owner(context, request))
    except AccountError as exc:
        request.response.status = 400
        return _remove_page(context, request, str(exc))
    if context.membership.user_id == request.login.user.id:
        return HTTPFound("/dashboard/")  # they left: this tenant is no longer theirs
    return _back(request, context, "removed")


@view_config(route_name="dashboard", context=InvitationResource, name="revoke",
             permission=MANAGE_TEAM, request_method="POST", require_csrf=True)
def revoke_invitation(context, request):
    revoke(request.db, context.invitation)
    return _back(request, context, "revoked")


@view_config(route_name="dashboard", context=TeamSection, name="two-factor",
             permission=MANAGE_OWNERS, request_method="POST", require_csrf=True, renderer=TEAM)
def require_two_factor(context, request):
    require = request.POST.get("require") == "on"
    if require and not two_factor.enabled(request.login.user):
        # Else the owner would lock themselves out of the page that undoes it.
        error = "Turn on two-factor for yourself first (Account -> Two-factor)."
        return _team_page(context, request, {"require": error}, status=400)
    context.tenant.require_two_factor = require
    return _back(request, context, "two-factor")
