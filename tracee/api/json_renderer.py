"""The API's JSON renderer: Cornice's, without its Accept negotiation where
the answer is known.

Cornice's renderer parses the request's Accept header and its own two offers
(``application/json``, ``text/plain``) on every response to pick the
Content-Type. A request that sends no Accept, or exactly
``application/json``, always gets ``application/json``: that is what API
clients send, so those skip the parsing. Any other Accept is negotiated by
Cornice as before (``text/plain`` gets ``text/plain``).

The hottest read answers through :func:`json_answer` instead, with the
same bytes and headers, made without Pyramid's rendering around them.
"""

from cornice.renderer import CorniceRenderer

from tracee.response import Response

JSON = "application/json"
REGISTRY_KEY = "api.json_renderer"


class ApiJsonRenderer(CorniceRenderer):
    def render(self, value, system):
        request = system.get("request")
        if request is None or request.environ.get("HTTP_ACCEPT", JSON) != JSON:
            return super().render(value, system)
        response = request.response
        if response.status_code == 204:  # as Cornice: no content, no Content-Type
            response.content_type = None
            return ""
        # What ``response.content_type = JSON`` does (no charset is added to
        # application/json), without WebOb working that out for each response.
        headerlist = response.headerlist
        headerlist[:] = [h for h in headerlist if h[0].lower() != "content-type"]
        headerlist.append(("Content-Type", JSON))
        return self.serialized(value, request)

    def serialized(self, value, request) -> bytes:
        # Bytes, as Response.text would encode them (application/json has no charset).
        return self.serializer(value, default=self._make_default(request), **self.kw).encode(
            Response.default_body_encoding)


def json_answer(request, value):
    """``value`` as the API's 200 answer in JSON, made here rather than by the
    view's renderer: what a keyed read of a tracker returns.

    Around the renderer itself, Pyramid's rendering builds a dict of system
    values, copies it into a BeforeRender event and notifies it, finds the
    response factory and makes a text/html response that is then turned into
    JSON: some 6 % of a keyed read's instructions. Here the same bytes and
    headers (Content-Type, Content-Length) are made in one step. Where the
    request asks for something other than JSON, or the view has begun
    ``request.response`` (a status or a header of its own), ``value`` is
    returned as it is and rendered as any other view's.
    """
    if request.environ.get("HTTP_ACCEPT", JSON) != JSON or "response" in request.__dict__:
        return value
    body = request.registry[REGISTRY_KEY].serialized(value, request)
    return Response.of(body, JSON)

