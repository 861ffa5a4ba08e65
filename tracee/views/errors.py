"""Not-found and error answers: JSON under /api/, a friendly page elsewhere."""

import json
import logging

from pyramid.httpexceptions import HTTPException, HTTPInternalServerError, HTTPNotFound
from pyramid.view import exception_view_config, notfound_view_config

from tracee.api.errors import error, error_body
from tracee.i18n import DEFAULT, REQUEST_ATTRIBUTE, negotiate
from tracee.paths import first_segment

log = logging.getLogger(__name__)


def _root(request) -> str:
    return first_segment(request.environ.get("PATH_INFO", ""))


def _is_api(request) -> bool:
    return _root(request) == "api"


def _speak_the_customers_language(request) -> None:
    """These pages are what a customer sees of a link gone wrong: in their language,
    by ?lang= or their browser's (no tenant is known to ask)."""
    try:
        lang = negotiate(request)
    except Exception:  # a request broken enough to land here must still get its page
        lang = DEFAULT
    setattr(request, REQUEST_ATTRIBUTE, lang)


def _json(status_exc, description, name=None, location="path"):
    status_exc.content_type = "application/json"
    status_exc.charset = "utf-8"
    status_exc.text = json.dumps(error_body([error(location, name, description)]))
    return status_exc


@notfound_view_config(renderer="tracee:templates/errors/not_found.jinja2")
def not_found(exc, request):
    if _is_api(request):
        if exc.content_type == "application/json":
            return exc  # the API's own 404 ("no tracker with id 7"): keep what it says
        return _json(HTTPNotFound(), f"no API resource at {request.path_info}", location="url")
    if _root(request) == "embed":
        # A stale widget token must show this message inside the shop's page, not a
        # browser "refused to connect" box.
        request.embeddable = True
    _speak_the_customers_language(request)
    request.response.status = 404
    return {}


@exception_view_config(HTTPException)
def http_exception(exc, request):
    """HTTP errors raised by Pyramid or Cornice (405, 415...) in the API's shape."""
    if _is_api(request) and exc.content_type != "application/json" and exc.status_code >= 400:
        description = exc.explanation or exc.title
        if exc.status_code == 405 and exc.allow:
            description = f"{request.method} is not allowed here; use {', '.join(exc.allow)}"
        return _json(exc, description, location="request")
    return exc


@exception_view_config(Exception, renderer="tracee:templates/errors/server_error.jinja2")
def server_error(exc, request):
    log.exception("unhandled error on %s %s", request.method, request.path_info)
    if _is_api(request):
        return _json(HTTPInternalServerError(), "internal error; it has been logged",
                     location="request")
    _speak_the_customers_language(request)
    request.response.status = 500
    return {}
