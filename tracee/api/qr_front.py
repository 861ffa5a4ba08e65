"""Repeats of the keyed QR image, answered in front of the framework.

``GET /api/v1/trackers/{id}/qr/`` is what a business's label printing asks
for, again and again for the same trackers. Once this worker has answered
one in full and remembers both the key (tracee.api.keys.KeyCache) and the
tracker's token (tracee.api.v1.qr.tracking_token), both held by the cache
epoch, an answer needs nothing of the framework: the key's checksum, the
rate limiter's one call (which reads the epoch too), and the PNG from
``render_qr``'s cache, sent with the headers the full stack answered with.

The checks are the stack's own functions, in the stack's order; everything
else goes through the whole stack: a key or a token not remembered, a key
whose ``last_used_at`` is due, an address refused for unknown keys, an
agency naming a client (``Tracee-Tenant``), ``?api_key=``, a size out of
bounds, ``If-None-Match``, and any verdict that is not a plain yes (a
refusal, an epoch that moved, Redis not answering). A request counted here
and then passed on carries its verdict (:data:`COUNTED`), so the stack does
not count it twice.
"""

import re
import threading

from tracee.api.keys import cached_key, is_well_formed, touch_due
from tracee.branding.qr import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, render_qr

# Only the spelling qr_code_url gives, and plain sizes: anything else is the stack's to judge.
PATH = re.compile(r"/api/v1/trackers/([1-9][0-9]{0,9})/qr/")
QUERY = re.compile(r"(?:size=([1-9][0-9]{1,3}))?")
COUNTED = "tracee.api.counted"  # environ: (key id, verdict) of a request counted here
_NOT_LEARNED = {"content-type", "content-length", "etag", "x-ratelimit-limit",
                "x-ratelimit-remaining", "x-ratelimit-reset"}
MAX_HOSTS = 1_000


class KeyedQrFront:
    def __init__(self, app, registry):
        self.app = app
        self.registry = registry
        self._headers: dict[str, list] = {}  # host -> what the stack answered besides content
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.endswith("/qr/") or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        match = PATH.fullmatch(path)
        if match is None:
            return self.app(environ, start_response)
        answer = self._answer(environ, int(match.group(1)))
        if answer is not None:
            headers, body = answer
            start_response("200 OK", headers)
            return [body]
        host = environ.get("HTTP_HOST")
        plain = self._plain(environ)

        def learning_start_response(status, headers, exc_info=None):
            if plain and status.startswith("200 "):
                kept = [h for h in headers if h[0].lower() not in _NOT_LEARNED]
                with self._lock:
                    if len(self._headers) >= MAX_HOSTS:
                        self._headers.clear()
                    self._headers[host] = kept
            return start_response(status, headers, exc_info)

        return self.app(environ, learning_start_response)

    @staticmethod
    def _plain(environ) -> bool:
        """A request whose answer's headers every repeat on its host may share."""
        return ("HTTP_IF_NONE_MATCH" not in environ and "HTTP_TRACEE_TENANT" not in environ
                and QUERY.fullmatch(environ.get("QUERY_STRING", "")) is not None)

    def _answer(self, environ, tracker_id: int):
        learned = self._headers.get(environ.get("HTTP_HOST"))
        if learned is None or not self._plain(environ):
            return None
        size = QUERY.fullmatch(environ.get("QUERY_STRING", "")).group(1)
        size = DEFAULT_SIZE if size is None else int(size)
        if not MIN_SIZE <= size <= MAX_SIZE:
            return None
        secret = environ.get("HTTP_X_API_KEY", "").strip()
        if not is_well_formed(secret):
            return None
        registry = self.registry
        limiter = registry["ratelimiter"]
        if limiter.remembers_refusals:  # as tracee.api.context: before any key is used
            address = registry["trusted_proxies"].client_address(environ)
            if limiter.refused_until("unknown-key", address) is not None:
                return None
        keys, tokens = registry["api.key_cache"], registry["api.tracker_tokens"]
        _, key = cached_key(secret, keys)
        if key is None or touch_due(key):
            return None
        token = tokens.get((key.tenant_id, tracker_id))
        if token is None:
            return None
        verdict = limiter.hit("key", str(key.id), key.rate_limit)
        environ[COUNTED] = (key.id, verdict)
        if verdict is None or not verdict.allowed:
            return None
        if not keys.confirm(verdict.epoch) or not tokens.confirm(verdict.epoch):
            return None
        image = render_qr(registry["urls"].tracking(token), size)
        headers = [("ETag", f'"{image.etag}"'), ("Content-Type", "image/png"),
                   ("Content-Length", str(len(image.png))), *learned,
                   *verdict.headers().items()]
        return headers, image.png
