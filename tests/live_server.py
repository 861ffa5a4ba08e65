"""The app served over real HTTP, for tests whose client is not WebTest
(Chromium, requests, the official client, schemathesis).

The server starts before the app is built, because the app's
``tracee.public_url`` must be the server's own address: the URLs the API
hands out are then the ones a client opens.
"""

from contextlib import contextmanager

import webob
from conftest import make_app
from webtest.http import StopableWSGIServer


class _LateApp:
    app = None

    def __call__(self, environ, start_response):
        if self.app is None:
            return webob.Response("app not ready", status=503)(environ, start_response)
        return self.app(environ, start_response)


@contextmanager
def serve(database, **settings):
    """``with serve(database, **settings) as (url, app)``: ``url`` has no trailing slash."""
    late = _LateApp()
    server = StopableWSGIServer.create(late)
    try:
        assert server.wait(), "the live server did not start"
        url = server.application_url.rstrip("/")
        late.app = make_app(database, **{"tracee.public_url": url, **settings})
        yield url, late.app
    finally:
        server.shutdown()
        if late.app is not None:
            late.app.registry["db.engine"].dispose()
