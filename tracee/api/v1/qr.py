"""/trackers/{id}/qr/: the tracking URL as a QR code PNG."""

import colander

from tracee.api.context import api_context_allowing_query_key
from tracee.api.schemas import querystring
from tracee.api.v1.services import api_service
from tracee.api.v1.trackers import load_tracker
from tracee.branding.qr import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, qr_response

qr = api_service("tracker_qr", "/trackers/{id}/qr", factory=api_context_allowing_query_key)


class QrQuery(colander.MappingSchema):
    size = colander.SchemaNode(
        colander.Int(),
        missing=DEFAULT_SIZE,
        validator=colander.Range(MIN_SIZE, MAX_SIZE),
    )
    api_key = colander.SchemaNode(colander.String(), missing=None)


@qr.get(validators=(querystring(QrQuery()),))
def tracker_qr(request):
    found = load_tracker(request)
    url = request.urls.tracking(found.tracking_token)
    # Its address may carry the key (?api_key=): no cache, shared or the browser's, keeps it.
    return qr_response(request, url, request.validated["size"], "private, no-store")
