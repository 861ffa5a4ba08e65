"""Customers' questions in the dashboard: the Messages inbox, and replying
from the tracker's page (tracee.messages.service does the work).

Customer text is shown escaped and never turned into links: anyone with a
tracking link can write it, and a link on a staff screen is an invitation
to click something nobody checked. Addresses are shown as text to copy.
"""

from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_TRACKERS, VIEW
from tracee.messages import service
from tracee.views.dashboard.conversation import conversation
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import MessagesSection, TrackerNode, dashboard_path
from tracee.views.dashboard.trackers import person, tracker_page

PER_PAGE = 25


@view_config(route_name="dashboard", context=TrackerNode, name="reply",
             permission=EDIT_TRACKERS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "tracker.jinja2")
def reply(context, request):
    tracker = context.tracker
    text = request.POST.get("text", "")
    try:
        service.reply(request.db, tracker.id, tracker.tracking_token, text,
                      person(request.login).label)
    except service.MessageError as exc:
        request.response.status = 400
        request.conversation = conversation(request, context, exc.errors["text"], text)
        return tracker_page(context, request)
    path = dashboard_path(request, context.tenant.slug, "trackers", str(tracker.id))
    return HTTPFound(path + "#conversation")


@view_config(route_name="dashboard", context=MessagesSection, permission=VIEW,
             renderer=TEMPLATES + "messages.jinja2")
def inbox(context, request):
    state = request.GET.get("state", "all")
    state = state if state in service.INBOX_STATES else "all"
    try:
        page_number = max(1, min(int(request.GET.get("page", "1")), 100_000))
    except ValueError:
        page_number = 1
    total, rows = service.inbox(request.db, state, page_number, PER_PAGE)
    last = max(1, -(-total // PER_PAGE))

    def page_link(number):
        return "?" + urlencode({"state": state, "page": number})

    return page(context, request, "messages", rows=rows, total=total, state=state,
                states=service.INBOX_STATES, page_number=page_number,
                previous=page_link(page_number - 1) if page_number > 1 else None,
                next=page_link(page_number + 1) if page_number < last else None)
