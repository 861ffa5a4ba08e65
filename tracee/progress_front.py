"""Idle polls of a tracking page answered 304 in front of the framework.

A visible tracking page asks ``/track/<token>/progress.json`` (or the
embed's) every few seconds with the ETag it holds, ``"p1-<event_seq>"``;
almost always nothing has changed. :class:`ProgressVersions` keeps each
token's latest ``event_seq`` where every worker sees it (the rate limiter's
storage: Redis in production, this process's memory in development), and
:class:`ProgressFront` answers a poll whose ETag names that version with a
304 before Pyramid builds a request, without touching the database.

Correctness rests on two rules. The version only ever rises (a Lua max in
Redis), so a reader that read the database before a change cannot put an
older version back over the writer's. The writer raises it after its commit
(an ``after_commit`` listener on the app's sessions; tracee.tracking.writes
notes which trackers changed), so no worker sees a version before the
database holds it; between commit and raise, a poll is answered from the
database as before. Versions expire after an hour unused, far longer than
any request takes, so an expiry cannot let a stale read back in.

Only where the full stack has answered a poll in this worker (200 or 304)
is one answered here, with the headers the stack answered with. On a host
that resolved it through the platform's root, every token resolves alike
(one such answer teaches the host); on a tenant's own domain only that
tenant's tokens do, so there each token is learned by itself. An unknown
token, a token on another tenant's domain, or the first poll on a host all
go through the whole stack and its limits. Like the public QR cache, a 304
answered here is not counted against the per-address limit: answering it
costs less than refusing it would.
"""

import logging
import re
import threading
from collections import OrderedDict

from limits.storage import RedisStorage
from redis.exceptions import RedisError
from sqlalchemy import event

from tracee.resp import RedisUnavailable, RespClient, Script
from tracee.tracking.writes import CHANGED_TRACKERS
from tracee.views.tracking import progress_etag

PATH = re.compile(r"/(?:track|embed)/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  r"[0-9a-f]{12})/progress\.json")
ETAG = re.compile(r'"p1-(\d+)"')
# The page's language (tracee.i18n); a 304 carries no text, so it is the same for each.
QUERY = re.compile(r"(?:lang=[a-z]{2})?")
TTL_SECONDS = 3600
log = logging.getLogger(__name__)
_CONTENT_HEADERS = {"content-type", "content-length", "etag"}
# Set by the view when the platform's root resolved the token (any tenant's resolves).
ANY_TOKEN = "tracee.progress.any_token"

# KEYS[1] the token's key; ARGV: version, ttl. Raises, never lowers.
_RAISE = Script("""
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
""")


class ProgressVersions:
    """token -> the latest ``event_seq`` known, shared by the workers."""

    MAX_LOCAL = 100_000

    def __init__(self, limiter_storage, wire: RespClient | None = None):
        self._redis = None
        # Raised over the limiter's own socket (tracee.resp): a status change
        # pays one bare round trip for it, not a redis-py call.
        self._wire = wire
        if isinstance(limiter_storage, RedisStorage):
            self._redis = limiter_storage.get_connection()
        self._local: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> int | None:
        if self._redis is not None:
            value = self._redis.get(f"tracee:progress:{token}")
            return None if value is None else int(value)
        with self._lock:
            return self._local.get(token)

    def raise_to(self, token: str, seq: int) -> None:
        if self._redis is not None:
            self._wire.run(_RAISE, [f"tracee:progress:{token}"], [seq, TTL_SECONDS])
            return
        with self._lock:
            if seq > self._local.get(token, -1):
                self._local[token] = seq
            self._local.move_to_end(token)
            while len(self._local) > self.MAX_LOCAL:
                self._local.popitem(last=False)


class ProgressFront:
    """Wraps the WSGI app; see the module's description."""

    MAX_SERVED = 50_000

    def __init__(self, app, versions: ProgressVersions):
        self.app = app
        self.registry = getattr(app, "registry", None)
        self.versions = versions
        # (host, path) -> the headers the full stack answered with, less content and ETag
        self._served: OrderedDict[tuple, list] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.endswith("/progress.json") or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        match = PATH.fullmatch(path)
        if match is None or not QUERY.fullmatch(environ.get("QUERY_STRING", "")):
            return self.app(environ, start_response)
        host, token = environ.get("HTTP_HOST"), match.group(1)
        kind = path.split("/", 2)[1]  # track or embed: their answers' headers differ
        key = (host, path)
        with self._lock:
            headers = self._served.get((host, kind)) or self._served.get(key)
        held = environ.get("HTTP_IF_NONE_MATCH")
        if headers is not None and held:
            try:
                seq = self.versions.get(token)
            except RedisError:  # the stack answers, from the database, as it would anyway
                seq = None
            if seq is not None and seq in int_tags(held):
                start_response("304 Not Modified", [*headers, ("ETag", f'"{progress_etag(seq)}"')])
                return []

        def learning_start_response(status, response_headers, exc_info=None):
            if status.startswith(("200 ", "304 ")):
                learned = (host, kind) if environ.get(ANY_TOKEN) else key
                self._learn(learned, token, response_headers)
            return start_response(status, response_headers, exc_info)

        return self.app(environ, learning_start_response)

    def _learn(self, key, token, headers) -> None:
        etag = next((v for k, v in headers if k.lower() == "etag"), "")
        found = ETAG.fullmatch(etag)
        if found is None:
            return
        try:
            self.versions.raise_to(token, int(found.group(1)))
        except RedisError:
            return  # not learned: this host's next poll goes through the stack again
        kept = [h for h in headers if h[0].lower() not in _CONTENT_HEADERS]
        with self._lock:
            self._served[key] = kept
            self._served.move_to_end(key)
            while len(self._served) > self.MAX_SERVED:
                self._served.popitem(last=False)


def int_tags(if_none_match: str) -> set[int]:
    """The versions an If-None-Match names (weak or strong, any number of them)."""
    return {int(seq) for seq in ETAG.findall(if_none_match)}


def _publish_after_commit(versions: ProgressVersions):
    def after_commit(session):
        changed = session.info.pop(CHANGED_TRACKERS, None)
        for token, seq in (changed or {}).items():
            try:
                versions.raise_to(token, seq)
            except (RedisError, RedisUnavailable):
                # The change is committed; failing the request now would say it was not.
                # Polls holding the old version may get 304s until it expires (an hour).
                log.warning("could not share the new progress version of a tracker")

    return after_commit


def _forget_on_rollback(session):
    session.info.pop(CHANGED_TRACKERS, None)


def includeme(config):
    limiter = config.registry["ratelimiter"]
    versions = ProgressVersions(limiter.storage, limiter.wire)
    config.registry["progress_versions"] = versions
    factory = config.registry["db.session_factory"]
    event.listen(factory, "after_commit", _publish_after_commit(versions))
    event.listen(factory, "after_rollback", _forget_on_rollback)
