"""Settings -> Domain: ask for a custom domain, publish its TXT record, verify, remove.

The same functions as /api/v1/branding/domain (tracee.tenancy.domains), so
the dashboard and the API hold, verify and refuse domains alike. Owners and
admins only: the domain is where the tenant's customers are sent.
"""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_SETTINGS
from tracee.tenancy import domains
from tracee.tenancy.service import TenantError, TenantTaken
from tracee.views.dashboard.pages import TEMPLATES, page, sentence
from tracee.views.dashboard.resources import DomainSection, dashboard_path

PAGE = TEMPLATES + "domain.jinja2"
MAX_INPUT = 300  # above DOMAIN_RE's 253: a longer entry is refused by its rule, not cut

# What the resolver's answer means, and what to do about it.
EXPLAINED = {
    domains.NO_SUCH_NAME: "The DNS answered that this name does not exist: the TXT record is "
    "not published yet, or the DNS has not caught up. Publishing can take a few minutes, "
    "sometimes up to the zone's TTL.",
    domains.NO_TXT: "The name exists but holds no TXT record: add one with the value below.",
    domains.UNANSWERED: "No DNS server answered in time. Nothing is wrong with your record as "
    "far as we know; try again in a minute.",
    domains.OTHER_VALUES: "The TXT record is there, but none of its values is this token. "
    "Replace the value with the one below (copy it whole, without quotes or spaces).",
    domains.NOTHING_PENDING: "There is no domain waiting to be verified: enter one first.",
}


def _page(context, request, **values) -> dict:
    tenant = context.tenant
    return page(context, request, "domain", tenant=tenant,
                challenge=tenant.pending_domain and domains.challenge_name(tenant.pending_domain),
                cname_target=request.registry["domains.cname_target"],
                **{"value": "", "errors": {}, "failure": None, **values})


def _back(request, context, outcome: str):
    path = dashboard_path(request, context.tenant.slug, "settings", "domain")
    return HTTPFound(f"{path}?done={outcome}")


@view_config(route_name="dashboard", context=DomainSection, permission=EDIT_SETTINGS,
             request_method="GET", renderer=PAGE)
def show(context, request):
    done = request.GET.get("done")
    return _page(context, request, done=done if done in ("asked", "verified", "removed") else None)


@view_config(route_name="dashboard", context=DomainSection, permission=EDIT_SETTINGS,
             request_method="POST", require_csrf=True, renderer=PAGE)
def ask(context, request):
    value = request.POST.get("domain", "")[:MAX_INPUT]
    try:
        domains.request_domain(request.db, context.tenant.id, value,
                               request.registry["platform_hosts"])
    except TenantError as exc:
        request.response.status = 409 if isinstance(exc, TenantTaken) else 400
        return _page(context, request, value=value, errors={"domain": sentence(exc)})
    return _back(request, context, "asked")


@view_config(route_name="dashboard", context=DomainSection, name="verify",
             permission=EDIT_SETTINGS, request_method="POST", require_csrf=True, renderer=PAGE)
def verify(context, request):
    try:
        domains.verify_domain(request.db, context.tenant.id, request.registry["domains.resolvers"])
    except domains.NotVerified as exc:
        request.response.status = 409
        return _page(context, request, failure={
            "message": sentence(exc), "explained": EXPLAINED[exc.reason], "found": exc.found})
    except TenantTaken as exc:  # another tenant verified the same domain first
        request.db.rollback()  # the failed flush; the page reads the tenant as it was
        request.response.status = 409
        return _page(context, request, failure={
            "message": sentence(exc), "explained": "Each domain serves one business: "
            "remove it there first, or choose another.", "found": ()})
    return _back(request, context, "verified")


@view_config(route_name="dashboard", context=DomainSection, name="remove",
             permission=EDIT_SETTINGS, request_method="POST", require_csrf=True)
def remove(context, request):
    domains.remove_domain(request.db, context.tenant.id)
    return _back(request, context, "removed")
