"""Security headers on every response, in one tween.

Everything refuses framing and sniffing by default. Tracking pages send no
referrer (their URL is a capability); the embed may be framed anywhere.
"""

import secrets

BASE_CSP = (
    "default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
CAPABILITY_PATHS = ("/track/", "/embed/")
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def csp_nonce(request) -> str:
    return secrets.token_urlsafe(16)


def security_headers_tween_factory(handler, registry):
    def tween(request):
        response = handler(request)
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # The raw PATH_INFO: the prefixes are ASCII, and request.path_info raises
        # on an address that is not UTF-8 (tracee.encoding answers those below).
        path = request.environ.get("PATH_INFO", "")
        if path.startswith("/api/"):
            headers.setdefault("Content-Security-Policy", API_CSP)
            headers.setdefault("Cache-Control", "no-store")
            headers.setdefault("Referrer-Policy", "no-referrer")
            headers.setdefault("X-Frame-Options", "DENY")
            return response
        embeddable = getattr(request, "embeddable", False)
        nonce = request.__dict__.get("csp_nonce", "unused")
        headers.setdefault(
            "Content-Security-Policy",
            BASE_CSP.format(nonce=nonce, ancestors="*" if embeddable else "'none'"),
        )
        if not embeddable:
            headers.setdefault("X-Frame-Options", "DENY")
        if path.startswith(CAPABILITY_PATHS):
            headers["Referrer-Policy"] = "no-referrer"
        else:
            headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response

    return tween


def includeme(config):
    config.add_request_method(csp_nonce, "csp_nonce", reify=True)
    config.add_tween("tracee.headers.security_headers_tween_factory")
