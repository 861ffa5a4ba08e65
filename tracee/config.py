"""The application's parts, included in order. Each line says why it is here."""

from tracee.tenancy.resources import PlatformRoot

INCLUDES = (
    "tracee.routing",  # route matching by first segment; before any route is added
    "tracee.request",  # one request class with every request attribute, made at start
    "tracee.response",  # one response class, handing its headers over without a rewrite
    "pyramid_jinja2",  # page templates; autoescaping on for every .jinja2 file
    "tracee.i18n",  # the customer's languages: one localizer each, made at start
    "tracee.static_paths",  # templates' static_path(): each file's address built once
    "tracee.db",  # engine, request.db, one transaction per request (a tween)
    "tracee.urls",  # public addresses of trackers (tracking_url, embed_code, ...)
    "tracee.ratelimit",  # limiter storage, and the per-address limit on public pages
    "tracee.progress_front",  # pages' progress versions, shared in the limiter's storage
    "tracee.headers",  # security headers on every response
    "tracee.encoding",  # a path or query string that is not UTF-8 gets a 400, not a 500
    "tracee.tenancy.resources",  # Host -> root -> tracker traversal for the pages
    "tracee.webhooks",  # webhook settings and the key that seals signing secrets
    "tracee.customer_mail",  # "Email me updates": settings, the form's token
    "tracee.messages",  # the question form's signing secret and its rate limits
    "tracee.tenancy.domains",  # custom-domain verification, the TLS proxy's question
    "tracee.branding.acquisition",  # each worker's cache of themes, by branding version
    "tracee.branding.page_templates",  # each worker's compiled tenant page templates
    "tracee.views.assets",  # /assets/<sha256>.png: uploaded logos and favicons, every host
    "tracee.api",  # /api/v1 Cornice services, key auth, rate-limit headers
    "tracee.views.api_docs",  # /docs/api: the API reference, from /api/v1/openapi.json
    "tracee.views.dashboard",  # sessions, login, CSRF and the dashboard's routes
)


def configure(config):
    for name in INCLUDES:
        config.include(name)
    config.add_jinja2_renderer(".jinja2")
    # The same files on every host: PlatformRoot, not the root factory, which would
    # look the Host up among tenants' domains for each file.
    config.add_static_view("static", "tracee:static", cache_max_age=3600, factory=PlatformRoot)
    config.scan("tracee.views")
