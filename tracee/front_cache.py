"""Responses that never change, answered in front of the framework.

A public QR image (``/track/<token>/qr.png``) depends only on the host, the
token and the size: tracking links are never reassigned, so once the full
stack has resolved one on a host, the same bytes are right for every later
request. This WSGI wrapper keeps such responses, whole, in each worker and
answers repeats (and ``If-None-Match`` revalidations) before Pyramid builds
a request: a shop's 500 packing slips, or a customer's phone re-reading the
code, cost about what serving the bytes raw costs.

Only responses a view marked with :func:`mark_immutable` are kept, and only
as answered the first time (status 200, every header the tweens added). A
repeat is not counted against the per-address limit: answering it costs less
than refusing it would. Anything not already kept, such as a guessed token,
goes through the whole stack and its limits as before.
"""

import threading
from collections import OrderedDict

MARK = "tracee.immutable"
# Headers that describe content, which a 304 does not carry.
_CONTENT_HEADERS = {"content-type", "content-length"}


def is_file_path(path: str) -> bool:
    """An address whose last segment names a file (``/assets/<hash>.png``,
    ``/track/<token>/qr.png``): the only kind tracee.fronts sends here."""
    return "." in path[path.rfind("/") + 1:]


def mark_immutable(request) -> None:
    """Let the front cache keep this response for the request's host and address."""
    if not is_file_path(request.path_info):
        # Never asked for through the cache: keeping it would be a silent no-op.
        raise ValueError(f"{request.path_info} is not a file's address; the front cache "
                         "keeps only those")
    request.environ[MARK] = True


class _Kept:
    __slots__ = ("status", "headers", "not_modified_headers", "body", "etag")

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.not_modified_headers = [h for h in headers if h[0].lower() not in _CONTENT_HEADERS]
        self.etag = next((v for k, v in headers if k.lower() == "etag"), None)

    def matches(self, if_none_match: str) -> bool:
        if self.etag is None:
            return False
        tags = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
        return any(tag in ("*", self.etag) for tag in tags)


class FrontCache:
    """Wraps the WSGI app; keeps up to ``max_bytes`` of marked bodies, least recent out."""

    def __init__(self, app, max_bytes: int = 8 * 1024 * 1024):
        self.app = app
        self.registry = getattr(app, "registry", None)  # scripts and tests reach it here
        self.max_bytes = max_bytes
        self._kept: OrderedDict[tuple, _Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # development serves with threads

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        key = (environ.get("HTTP_HOST"), environ.get("PATH_INFO"), environ.get("QUERY_STRING"))
        kept = self._recall(key)
        if kept is not None:
            if kept.matches(environ.get("HTTP_IF_NONE_MATCH", "")):
                start_response("304 Not Modified", kept.not_modified_headers)
                return []
            start_response(kept.status, kept.headers)
            return [kept.body]
        answered = []

        def recording_start_response(status, headers, exc_info=None):
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        if not (environ.get(MARK) and answered and answered[0].startswith("200 ")):
            return body
        try:
            content = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        self._keep(key, _Kept(answered[0], list(answered[1]), content))
        return [content]

    def _recall(self, key) -> _Kept | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
            return kept

    def _keep(self, key, kept: _Kept) -> None:
        if len(kept.body) > self.max_bytes:
            return
        with self._lock:
            replaced = self._kept.pop(key, None)
            if replaced is not None:
                self._bytes -= len(replaced.body)
            self._kept[key] = kept
            self._bytes += len(kept.body)
            while self._bytes > self.max_bytes:
                _, evicted = self._kept.popitem(last=False)
                self._bytes -= len(evicted.body)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0
