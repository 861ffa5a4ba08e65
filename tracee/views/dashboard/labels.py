"""A tracker's QR code for the logged-in user, and sheets of printable labels.

A sheet carries its QR codes inside the page as data: URIs, so a sheet of
500 is one request (no 500 image requests through the session and the
tenant's ACL), and the print dialog never catches an image not yet loaded.
render_qr keeps recent codes by URL and size, so a reprint costs no rendering.
"""

import base64

from pyramid.view import view_config

from tracee.accounts.permissions import VIEW
from tracee.branding.qr import qr_response as send_qr
from tracee.branding.qr import render_qr, requested_size
from tracee.tracking.search import label_rows
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import TrackerNode, TrackersSection, as_id
from tracee.views.dashboard.trackers import FILTERS, list_filter

MAX_LABELS = 1000
LABEL_QR_SIZE = 240  # about 3 cm at 200 dpi; whole pixels per module keep it sharp
# The image is the tracking link's, which never changes for a tracker: the
# browser may keep it a day, privately (the dashboard is behind a login).
QR_CACHE_CONTROL = "private, max-age=86400"


@view_config(route_name="dashboard", context=TrackerNode, name="qr.png", permission=VIEW,
             request_method="GET")
def tracker_qr(context, request):
    size = requested_size(request)
    request.dashboard_cache_control = QR_CACHE_CONTROL
    response = send_qr(request, request.urls.tracking(context.tracker.tracking_token), size,
                       QR_CACHE_CONTROL)
    if "download" in request.GET:
        name = f"tracker-{context.tracker.number}-qr.png"
        response.content_disposition = f'attachment; filename="{name}"'
    return response


def _data_uri(url: str) -> str:
    return "data:image/png;base64," + base64.b64encode(render_qr(url, LABEL_QR_SIZE).png).decode()


def _chosen_ids(request) -> list[int] | None:
    """The ids ticked on the list (``id=…``), or None for "every tracker of the filter"."""
    raw = request.GET.getall("id")
    if not raw:
        return None
    return [i for i in map(as_id, raw[:MAX_LABELS]) if i is not None]


@view_config(route_name="dashboard", context=TrackersSection, name="labels", permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "labels.jinja2")
def labels(context, request):
    q, status = list_filter(request)
    ids = _chosen_ids(request)
    rows = label_rows(request.db, ids=ids, q=q, limit=MAX_LABELS, **FILTERS[status])
    tracking = request.urls.tracking
    sheet = [{"label": row, "qr": _data_uri(tracking(row.token))} for row in rows]
    return page(context, request, "trackers", sheet=sheet, chosen=ids is not None, q=q,
                status=status, limit=MAX_LABELS)
