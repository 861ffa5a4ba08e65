"""/trackers/{id}/qr/: the tracking URL as a QR code PNG."""

import colander

from tracee.api.context import api_context_allowing_query_key
from tracee.api.openapi import operation
from tracee.api.schemas import QueryInteger, querystring
from tracee.api.v1.services import api_service
from tracee.api.v1.trackers import load_tracker
from tracee.branding.qr import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, qr_response

qr = api_service("tracker_qr", "/trackers/{id}/qr", factory=api_context_allowing_query_key)


class QrQuery(colander.MappingSchema):
    # The key may come as ?api_key=; the route factory reads it (a security scheme).
    size = colander.SchemaNode(
        QueryInteger(),
        missing=DEFAULT_SIZE,
        validator=colander.Range(MIN_SIZE, MAX_SIZE),
    )


@qr.get(validators=(querystring(QrQuery()),))
@operation(200, {"type": "string", "format": "binary"}, "The tracking page's QR code",
           media_type="image/png", headers=("ETag",),
           others={304: "the image is the one the If-None-Match tag names"},
           parameters=({"name": "If-None-Match", "in": "header", "required": False,
                        "schema": {"type": "string"}},))
def tracker_qr(request):
    """A PNG of the tracking URL, ``size`` pixels wide or a little more (whole pixels per
    module). The key may be given as ``?api_key=`` for ``<img>`` tags."""
    found = load_tracker(request)
    url = request.urls.tracking(found.tracking_token)
    # Its address may carry the key (?api_key=): no cache, shared or the browser's, keeps it.
    return qr_response(request, url, request.validated["size"], "private, no-store")
