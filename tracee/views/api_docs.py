"""/docs/api: the API reference, Swagger UI over /api/v1/openapi.json.

Swagger UI is vendored under tracee/static/vendor/ (``make vendor``), so the
page loads nothing from another origin. Its CSP is this page's own: scripts
from our static files only (the init script is a file, nothing inline), the
document fetched from this origin, and inline style attributes, which Swagger
UI's React components set; every other page keeps the site's stricter policy.
"""

from pyramid.view import view_config

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def no_context(request):
    """A static page: no tenant, no database."""
    return None


@view_config(route_name="api_docs", renderer="tracee:templates/docs/api.jinja2",
             request_method=("GET", "HEAD"))
def api_reference(request):
    request.response.headers["Content-Security-Policy"] = DOCS_CSP
    request.response.cache_control = "public, max-age=300"
    return {"spec_url": request.route_path("openapi", _slash="")}


def includeme(config):
    config.add_route("api_docs", "/docs/api", factory=no_context)
