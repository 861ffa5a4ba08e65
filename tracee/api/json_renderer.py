"""The API's JSON renderer: Cornice's, without its Accept negotiation where
the answer is known.

Cornice's renderer parses the request's Accept header and its own two offers
(``application/json``, ``text/plain``) on every response to pick the
Content-Type. A request that sends no Accept, or exactly
``application/json``, always gets ``application/json``: that is what API
clients send, so those skip the parsing. Any other Accept is negotiated by
Cornice as before (``text/plain`` gets ``text/plain``).
"""

from cornice.renderer import CorniceRenderer

JSON = "application/json"


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
        # Bytes, as Response.text would encode them (application/json has no charset).
        return self.serializer(value, default=self._make_default(request), **self.kw).encode(
            response.default_body_encoding)

