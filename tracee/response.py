"""The application's response class: ``request.response`` and the API's answers.

WebOb hands a response to the server through ``_abs_headerlist``, which
copies the header list name by name, lowering each to find a ``Location``
to make absolute: some 150-190 bytecodes a request, for the few redirects.
Here the names are joined and lowered once, in C, and only where
"location" appears among them (a redirect, or a name that merely holds the
word) does WebOb's own run.

:meth:`Response.put_headers` sets several headers in one pass where
``response.headers[name] = value`` scans the list for each (a page sets four:
its caching, Vary, its type and its length).
"""

from operator import itemgetter

from pyramid import response

_NAME = itemgetter(0)


class Response(response.Response):
    @classmethod
    def of(cls, body: bytes, content_type: str) -> "Response":
        """A 200 carrying ``body`` as ``content_type`` (in full: a text type names
        its charset), as ``cls(body=body, content_type=...)`` makes it.

        WebOb's constructor weighs each of its arguments (some 110-160 bytecodes,
        on every request); here the instance is filled in as it would fill it
        in, which tests/test_response.py checks against the constructor."""
        made = cls.__new__(cls)
        made.__dict__.update(_status="200 OK", _headers=None, _headerlist=[
            ("Content-Type", content_type), ("Content-Length", str(len(body)))],
            conditional_response=cls.default_conditional_response, _app_iter=[body])
        return made

    def _abs_headerlist(self, environ):
        headerlist = self._headerlist
        if "location" in " ".join(map(_NAME, headerlist)).lower():
            return super()._abs_headerlist(environ)
        return list(headerlist)  # a list of its own, as WebOb's

    def put_headers(self, *headers: tuple[str, str]) -> None:
        """As ``self.headers[name] = value`` for each: any header of that name replaced."""
        self._put(headers, set(map(str.lower, map(_NAME, headers))))

    def put_body(self, body: bytes, content_type: str) -> None:
        """As ``self.content_type = content_type`` then ``self.body = body``, with
        ``content_type`` in full (a text type names its charset): one pass over
        the headers where WebOb makes three."""
        self._app_iter = [body]
        self._put((("Content-Type", content_type), ("Content-Length", str(len(body)))),
                  _BODY_HEADERS)

    def _put(self, headers, names) -> None:
        """Add ``headers``, first removing any header whose lowered name is in ``names``."""
        headerlist = self._headerlist
        if not names.isdisjoint(map(str.lower, map(_NAME, headerlist))):
            headerlist[:] = [h for h in headerlist if h[0].lower() not in names]
        headerlist.extend(headers)


# What a new body replaces; Content-MD5 would be another body's, as WebOb's setter knows.
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-md5"})


EMPTY_PAGE = "text/html; charset=UTF-8"  # WebOb's default type, with its default charset


def response_factory(request) -> Response:
    return Response.of(b"", EMPTY_PAGE)


def includeme(config):
    config.set_response_factory(response_factory)
