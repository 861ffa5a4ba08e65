"""Requests whose address is not UTF-8 are refused at the door, with a 400.

Pyramid, WebOb and the views read ``request.path_info`` and ``request.GET`` as
UTF-8 text; bytes such as ``%FF`` there raise ``UnicodeDecodeError`` wherever
they are first read (a 500, or a crash in a tween). This tween reads them once,
before anything else does. It sits just below the security-headers tween, so
the refusal carries those headers too.
"""

from pyramid.httpexceptions import HTTPBadRequest

from tracee.api.errors import api_error

MESSAGE = "the request address (path or query string) is not valid UTF-8"


def _decodes(request) -> bool:
    environ = request.environ
    try:
        # An ASCII path and an empty query string always decode: most requests
        # are spared WebOb's decoding and query parsing here.
        if not environ.get("PATH_INFO", "").isascii():
            request.path_info  # noqa: B018  (decoding is the point)
        if environ.get("QUERY_STRING"):
            request.GET  # noqa: B018
    except UnicodeDecodeError:
        return False
    return True


def utf8_address_tween_factory(handler, registry):
    def tween(request):
        if _decodes(request):
            return handler(request)
        if request.environ.get("PATH_INFO", "").startswith("/api/"):
            return api_error(400, MESSAGE, location="url")
        return HTTPBadRequest(MESSAGE[0].upper() + MESSAGE[1:] + ".")

    return tween


def includeme(config):
    config.add_tween(
        "tracee.encoding.utf8_address_tween_factory",
        under="tracee.headers.security_headers_tween_factory",
        over="tracee.ratelimit.public_rate_limit_tween_factory",
    )
