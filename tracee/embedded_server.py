"""The embedded server (``make run``, ``pserve``): waitress, whose own refusals
under /api/ come in the API's JSON error shape.

Waitress reads a whole request before the app sees any of it, so its cap
(``max_request_body_size``) is what keeps a huge upload out of memory and off
the disk; raising it to let the app refuse would buffer the upload first.
Waitress answers what it refuses (a body over the cap, a malformed request)
itself, in text/plain. This server keeps waitress and its limits and only
words those answers, on API paths, as the API would.

``[server:main] use = egg:tracee#waitress`` takes waitress's settings as they are.
"""

import json
import logging

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from tracee.api.errors import error, error_body

API_PREFIX = "/api/"


class JsonRefusal:
    """A waitress error, answered as JSON (waitress calls ``to_response``)."""

    def __init__(self, refused, max_body: int):
        self.status = f"{refused.code} {refused.reason}"
        if isinstance(refused, RequestEntityTooLarge):
            # Waitress refuses a body of max_body bytes or more, so this is exact.
            self.problem = error("body", None, f"request body is larger than {max_body - 1} bytes")
        else:
            self.problem = error("request", None, f"{refused.reason}: {refused.body}")

    def to_response(self, ident=None):
        body = json.dumps(error_body([self.problem])).encode()
        return self.status, [("Content-Type", "application/json")], body


class ApiErrorTask(ErrorTask):
    def execute(self):
        # ``path`` is set once the request line parses; a refusal before that
        # has no path to go by, and keeps waitress's words.
        if getattr(self.request, "path", "").startswith(API_PREFIX):
            max_body = self.channel.server.adj.max_request_body_size
            self.request.error = JsonRefusal(self.request.error, max_body)
        super().execute()


class ApiErrorChannel(HTTPChannel):
    error_task_class = ApiErrorTask


def create_server(app, **settings):
    """waitress.create_server with the API's error answers; same settings."""
    dispatchers = {}
    server = waitress.create_server(app, map=dispatchers, **settings)
    # One listening server per address; each makes a channel per connection.
    for dispatcher in dispatchers.values():
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = ApiErrorChannel
    return server


def serve_paste(app, global_conf, **settings):
    """The PasteDeploy server runner, as waitress's own ``serve_paste``."""
    logging.basicConfig()
    server = create_server(app, **settings)
    server.print_listen("Serving on http://{}:{}")
    server.run()
    return 0
