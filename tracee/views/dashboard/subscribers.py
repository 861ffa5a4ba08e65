"""Staff removing a customer's address from a tracker's email updates."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_TRACKERS
from tracee.customer_mail.subscriptions import remove
from tracee.views.dashboard.pages import TEMPLATES
from tracee.views.dashboard.resources import TrackerNode, dashboard_path
from tracee.views.dashboard.trackers import tracker_page


@view_config(route_name="dashboard", context=TrackerNode, name="remove-subscriber",
             permission=EDIT_TRACKERS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "tracker.jinja2")
def remove_subscriber(context, request):
    """Removing what is already gone is harmless: the page is shown again either way."""
    raw = request.POST.get("subscription", "")
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**31):
        request.response.status = 400
        return tracker_page(context, request, error="Choose an address to remove.")
    remove(request.db, context.tracker.id, int(raw))
    return HTTPFound(dashboard_path(request, context.tenant.slug, "trackers",
                                    str(context.tracker.id)))
