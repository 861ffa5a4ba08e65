"""Security headers on every response, in one tween.

Everything refuses framing and sniffing by default. Tracking pages send no
referrer (their URL is a capability); the embed may be framed anywhere.
Error pages are never stored by caches. With an https public URL and
``tracee.hsts_seconds`` set (production.ini), browsers are told to use https
only.
"""

import secrets
from urllib.parse import urlsplit

from tracee.paths import first_segment

BASE_CSP = (
    "default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
CAPABILITY_ROOTS = ("track", "embed")
CAPABILITY_PATHS = ("/track/", "/embed/")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Pages that keep themselves current (request.live_updates) run our own
# script, which reads their progress from the same origin; nothing else may.
LIVE_CSP = "; script-src 'self'; connect-src 'self'"


def csp_nonce(request) -> str:
    return secrets.token_urlsafe(16)


def hsts_value(settings) -> str | None:
    """``Strict-Transport-Security``, sent only when the public URL is https:
    over http the header is ignored at best, and a promise we cannot keep."""
    try:
        seconds = int(settings.get("tracee.hsts_seconds") or 0)
    except ValueError:
        raise ValueError("tracee.hsts_seconds must be a whole number of seconds") from None
    if seconds <= 0 or urlsplit(settings["tracee.public_url"]).scheme != "https":
        return None
    return f"max-age={seconds}"


def security_headers_tween_factory(handler, registry):
    hsts = hsts_value(registry.settings)

    def tween(request):
        response = handler(request)
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if hsts is not None:
            headers.setdefault("Strict-Transport-Security", hsts)
        # The raw PATH_INFO, resolved as traversal will: "/./track/<t>" is a tracking
        # page too. Raw, because request.path_info raises on an address that is not
        # UTF-8 (tracee.encoding answers those below).
        path = request.environ.get("PATH_INFO", "")
        root = first_segment(path)
        if root == "api":
            headers.setdefault("Content-Security-Policy", API_CSP)
            headers.setdefault("Cache-Control", "no-store")
            headers.setdefault("Referrer-Policy", "no-referrer")
            headers.setdefault("X-Frame-Options", "DENY")
            return response
        embeddable = getattr(request, "embeddable", False)
        nonce = request.__dict__.get("csp_nonce", "unused")
        headers.setdefault(
            "Content-Security-Policy",
            BASE_CSP.format(nonce=nonce, ancestors="*" if embeddable else "'none'")
            + (LIVE_CSP if getattr(request, "live_updates", False) else ""),
        )
        if not embeddable:
            headers.setdefault("X-Frame-Options", "DENY")
        # Resolved or as spelled: "/track/<t>/../.." resolves elsewhere, but its
        # address still holds the token.
        if root in CAPABILITY_ROOTS or path.startswith(CAPABILITY_PATHS):
            headers["Referrer-Policy"] = "no-referrer"
        else:
            headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if response.status_code >= 400:
            # A refusal or a failure is about this moment: no cache may replay it.
            headers.setdefault("Cache-Control", "no-store")
        return response

    return tween


def includeme(config):
    config.add_request_method(csp_nonce, "csp_nonce", reify=True)
    config.add_tween("tracee.headers.security_headers_tween_factory")
