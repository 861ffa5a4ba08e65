"""Security headers on every response, in one tween.

Everything refuses framing and sniffing by default. Tracking pages send no
referrer (their URL is a capability); the embed may be framed anywhere.
Error pages are never stored by caches. With an https public URL and
``tracee.hsts_seconds`` set (production.ini), browsers are told to use https
only.
"""

import secrets
from operator import itemgetter
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
    first = (("X-Content-Type-Options", "nosniff"),)
    if hsts is not None:
        first += (("Strict-Transport-Security", hsts),)
    api = (*first, ("Content-Security-Policy", API_CSP), ("Cache-Control", "no-store"),
           ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"))

    def tween(request):
        response = handler(request)
        # Each header only where the response has none of that name, as
        # ``headers.setdefault`` would, from one pass over the list: each
        # setdefault lowers every header name again.
        headerlist = response.headerlist
        present = set(map(str.lower, map(_NAME, headerlist)))
        # The raw PATH_INFO, resolved as traversal will: "/./track/<t>" is a tracking
        # page too. Raw, because request.path_info raises on an address that is not
        # UTF-8 (tracee.encoding answers those below).
        path = request.environ.get("PATH_INFO", "")
        root = first_segment(path)
        if root == "api":
            _add_missing(headerlist, present, api)
            return response
        embeddable = getattr(request, "embeddable", False)
        nonce = request.__dict__.get("csp_nonce", "unused")
        csp = (BASE_CSP.format(nonce=nonce, ancestors="*" if embeddable else "'none'")
               + (LIVE_CSP if getattr(request, "live_updates", False) else ""))
        _add_missing(headerlist, present, (*first, ("Content-Security-Policy", csp))
                     if embeddable else (*first, ("Content-Security-Policy", csp),
                                         ("X-Frame-Options", "DENY")))
        # Resolved or as spelled: "/track/<t>/../.." resolves elsewhere, but its
        # address still holds the token.
        if root in CAPABILITY_ROOTS or path.startswith(CAPABILITY_PATHS):
            if "referrer-policy" in present:  # replaced, not kept
                headerlist[:] = [h for h in headerlist if h[0].lower() != "referrer-policy"]
            headerlist.append(("Referrer-Policy", "no-referrer"))
        else:
            _add_missing(headerlist, present,
                         (("Referrer-Policy", "strict-origin-when-cross-origin"),))
        if response.status_code >= 400:
            # A refusal or a failure is about this moment: no cache may replay it.
            _add_missing(headerlist, present, (("Cache-Control", "no-store"),))
        return response

    return tween


_NAME = itemgetter(0)


def _add_missing(headerlist: list, present: set, headers) -> None:
    """Append each (name, value) whose lowercased name is not in ``present``."""
    names = list(map(str.lower, map(_NAME, headers)))
    if present.isdisjoint(names):  # the usual case: the view set none of them
        headerlist.extend(headers)
        present.update(names)
        return
    for (name, value), lowered in zip(headers, names, strict=True):
        if lowered not in present:
            headerlist.append((name, value))
            present.add(lowered)


def includeme(config):
    config.add_request_method(csp_nonce, "csp_nonce", reify=True)
    config.add_tween("tracee.headers.security_headers_tween_factory")
