"""/trackers/{id}/qr/: the tracking URL as a QR code PNG."""

import colander

from tracee.api.context import api_context_allowing_query_key
from tracee.api.openapi import operation
from tracee.api.schemas import QueryInteger, path_id, querystring
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
    url = request.urls.tracking(tracking_token(request))
    # Its address may carry the key (?api_key=): no cache, shared or the browser's, keeps it.
    return qr_response(request, url, request.validated["size"], "private, no-store")


def tracking_token(request):
    """The token of the tenant's tracker named in the path, from this worker's
    memory when it has read it before and the cache epoch has not moved since.

    A tracker's link never changes today; anything that would change or delete
    one must raise the epoch (tracee.cache_epoch) as revoking a key does. The
    entry is kept under the epoch this request's count read, which came before
    the tracker's read. Another tenant's tracker is never kept, so it stays
    not found.
    """
    tokens = request.registry["api.tracker_tokens"]
    verdict = request.rate_limit
    tokens.confirm(verdict.epoch if verdict is not None else None)
    ident = (request.context.tenant_id, path_id(request))
    token = tokens.get(ident)
    if token is None:
        token = load_tracker(request).tracking_token
        tokens.put(ident, token)
    return token
