"""Cached keys and revocation at once: the cache epoch read in the limiter's round trip.

Two app instances sharing Redis stand for two workers; each has the key cached
before it is revoked, and the very next request with it, on either, is a 401.
And when Redis does not answer: requests are served uncounted (fail-open),
and no worker trusts its cache meanwhile.
"""

import re
import socket

import pytest
import sqlalchemy as sa
from conftest import make_app
from logins import cheap_hashing, log_in, make_user  # noqa: F401
from test_cli import run, write_ini  # noqa: F401
from test_ratelimit import HEADERS, count_round_trips, redis_url  # noqa: F401
from webtest import TestApp

from tracee.api.keys import ActiveKey, KeyCache
from tracee.cache_epoch import EPOCH_KEY
from tracee.ratelimit import ONE_CALL, ONE_CALL_REPLY, RateLimiter
from tracee.resp import (
    PreparedCall,
    RedisUnavailable,
    RespClient,
    _command,
    _Incomplete,
    _parse,
    _parse_reply,
)

LIST = "/api/v1/trackers/"


@pytest.fixture
def workers(database, redis_url):
    """Two app instances on one database and one Redis, remembering keys for a minute."""
    url, client = redis_url
    settings = {"tracee.ratelimit.storage": url, "tracee.api.key_cache_seconds": "60"}
    apps = [make_app(database, **settings) for _ in range(2)]
    apps[0].registry["ratelimiter"].reset()
    yield [TestApp(app) for app in apps]
    apps[0].registry["ratelimiter"].reset()
    for app in apps:
        app.registry["db.engine"].dispose()


def lookups(app) -> list:
    """The key lookups ``app`` sends from now on."""
    seen = []
    sa.event.listen(app.app.registry["db.engine"], "before_cursor_execute",
                    lambda _c, _cur, statement, *_: seen.append(1)
                    if "FROM api_keys" in statement else None)
    return seen


def cache_in_both(workers, headers):
    for worker in workers:
        for _ in range(2):  # the first learns the epoch, the second keeps the key under it
            worker.get(LIST, headers=headers, status=200)
    seen = [lookups(worker) for worker in workers]
    for worker in workers:
        worker.get(LIST, headers=headers, status=200)
    assert seen == [[], []], "both workers answer from their cache"


def test_revoked_from_the_dashboard_the_next_request_is_refused(workers, make_tenant, registry,
                                                                cheap_hashing):  # noqa: F811
    tenant = make_tenant("acme", "Acme Prints")
    cache_in_both(workers, tenant.headers)
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    dashboard = workers[0]
    log_in(dashboard, "owner@acme.test")
    page = dashboard.get("/dashboard/acme/settings/api-keys/")
    confirm = page.click(description="Revoke", href=rf"/{tenant.key_id}/revoke$")
    confirm.forms["revoke-form"].submit(status=302)
    for worker in reversed(workers):  # the other worker first, then the one that revoked
        refused = worker.get(LIST, headers=tenant.headers, status=401)
        assert refused.json["errors"][0]["name"] == "X-API-Key"


def test_revoked_with_the_cli_the_next_request_is_refused(workers, tenant, database, redis_url,
                                                          run, tmp_path):  # noqa: F811
    cache_in_both(workers, tenant.headers)
    ini = write_ini(tmp_path / "cli.ini", database.app_url,
                    **{"tracee.ratelimit.storage": redis_url[0]})
    code, out, _ = run(ini, "key", "revoke", "acme", str(tenant.key_id))
    assert code == 0 and out.startswith("revoked key")
    for worker in workers:
        worker.get(LIST, headers=tenant.headers, status=401)


def test_other_keys_are_looked_up_again_once_and_then_cached(workers, make_tenant, run,
                                                             database, redis_url, tmp_path):  # noqa: F811
    first, second = make_tenant("acme"), make_tenant("globex")
    cache_in_both(workers, second.headers)
    ini = write_ini(tmp_path / "cli.ini", database.app_url,
                    **{"tracee.ratelimit.storage": redis_url[0]})
    assert run(ini, "key", "revoke", "acme", str(first.key_id))[0] == 0
    seen = lookups(workers[0])
    for _ in range(3):
        workers[0].get(LIST, headers=second.headers, status=200)
    assert len(seen) == 1


def test_a_row_read_before_the_epoch_moved_is_not_kept():
    """The entry is kept under the epoch known before its row was read: the
    round trip after the read, seeing a newer one, drops it."""
    cache = KeyCache(60)
    assert cache.confirm(7) is False and cache.epoch == 7
    cache.put("h", ActiveKey(1, 1, None, None))  # read while the epoch was (known as) 7
    assert cache.confirm(8) is False  # a revocation committed meanwhile
    assert cache.get("h") is None
    cache.put("h", ActiveKey(1, 1, None, None))
    assert cache.confirm(8) is True and cache.get("h") is not None


def test_without_an_epoch_nothing_is_kept_or_served():
    cache = KeyCache(60)
    cache.confirm(3)
    cache.put("h", ActiveKey(1, 1, None, None))
    assert cache.confirm(None) is False
    cache.put("g", ActiveKey(2, 1, None, None))
    assert cache.get("h") is None and cache.get("g") is None


def test_a_lost_epoch_starts_from_a_number_no_worker_held(redis_url):
    url, client = redis_url
    limiter = RateLimiter(url, "5/minute", "5/minute")
    client.delete(EPOCH_KEY)
    first = limiter.hit("key", "lost-epoch").epoch
    assert first > 10**15  # microseconds since 1970
    limiter.epoch.bump()
    assert limiter.hit("key", "lost-epoch").epoch == first + 1
    client.delete(EPOCH_KEY)  # Redis lost its data, then a revocation came first
    limiter.epoch.bump()
    assert limiter.hit("key", "lost-epoch").epoch > first + 1


# -- Redis down -------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


@pytest.fixture
def redis_down(database):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    app = make_app(database, **{"tracee.ratelimit.storage": url,
                                "tracee.api.key_cache_seconds": "60"})
    yield TestApp(app)
    app.registry["db.engine"].dispose()


def test_with_redis_down_requests_are_served_uncounted(redis_down, tenant, create):
    for _ in range(3):
        response = redis_down.get(LIST, headers=tenant.headers, status=200)
        assert not any(h in response.headers for h in HEADERS)
    created = redis_down.post_json(LIST, {"name": "Order #1", "template": "3d-printing"},
                                   headers=tenant.headers, status=201).json
    redis_down.get(f"/track/{created['tracking_token']}", status=200)


def test_with_redis_down_no_key_is_served_from_the_cache(redis_down, tenant, database):
    seen = lookups(redis_down)
    for _ in range(3):
        redis_down.get(LIST, headers=tenant.headers, status=200)
    assert len(seen) == 3
    with database.admin_engine.begin() as conn:  # revoked behind the app's back
        conn.execute(sa.text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"))
    redis_down.get(LIST, headers=tenant.headers, status=401)


def test_a_broken_connection_is_replaced_at_once(redis_url, monkeypatch):
    url, client = redis_url
    limiter = RateLimiter(url, "5/minute", "5/minute")
    assert limiter.hit("key", "reconnect").allowed
    client.client_kill_filter(_type="normal", skipme=True)  # as a Redis restart would
    trips = count_round_trips(limiter, monkeypatch)
    verdict = limiter.hit("key", "reconnect")
    assert verdict is not None and verdict.remaining == 3
    assert trips == ["resp", "resp"]  # the dead socket, then a new one


def test_a_down_redis_is_not_asked_again_within_a_second():
    client = RespClient(f"redis://127.0.0.1:{closed_port()}/0")
    connects = []
    real = socket.create_connection
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "create_connection",
                      lambda *a, **kw: (connects.append(1), real(*a, **kw))[1])
        for _ in range(3):
            with pytest.raises(RedisUnavailable):
                client.run(ONE_CALL, ["k", "e"], [1.0, 1, 60])
    assert connects == [1]


@pytest.mark.parametrize("keys, args, value", [
    (["LIMITS:LIMITER/key/7/100/1/minute", "tracee:epoch"], [None, 100, 60], 1733212800.123456),
    (["one"], [3, None], b"bytes"),
    ([], [None], "text: \u00e9"),
])
def test_a_prepared_call_sends_the_bytes_of_the_whole_command(keys, args, value):
    whole = [value if a is None else a for a in args]
    assert (PreparedCall(ONE_CALL, keys, args).command(value)
            == _command(b"EVALSHA", ONE_CALL.sha, b"%d" % len(keys), *keys, *whole))


REPLIES = [
    b"*4\r\n:1\r\n:5\r\n$17\r\n1733212800.123456\r\n$16\r\n1733212800123456\r\n",
    b"*0\r\n", b"*-1\r\n", b"*2\r\n$-1\r\n:3\r\n", b"*2\r\n$4\r\na\r\nb\r\n:3\r\n",
    b"*1\r\n*1\r\n:2\r\n", b"+OK\r\n", b":12\r\n", b"$2\r\nab\r\n", b"*2\r\n:1\r\n+OK\r\n",
    b"*2\r\n$0\r\n\r\n:1\r\n", b"*1\r\n$4\r\n$1\r\n\r\n",
]


@pytest.mark.parametrize("reply", REPLIES)
def test_a_reply_and_every_cut_of_it_read_as_the_general_parser_reads_them(reply):
    """The shortcut for flat arrays (strings with CRLF inside, nulls and nesting
    included) gives what _parse gives, and waits for more where it would."""
    def read(parser, buffer):
        try:
            return parser(buffer)
        except _Incomplete:
            return "incomplete"

    for cut in range(1, len(reply) + 1):
        assert read(_parse_reply, reply[:cut]) == read(lambda b: _parse(b, 0)[0], reply[:cut])


@pytest.mark.parametrize("reply", [
    REPLIES[0], b"*4\r\n:0\r\n:100\r\n$13\r\n1.7332128e+09\r\n$1\r\n7\r\n",
])
def test_the_limiters_usual_reply_is_matched_whole_to_what_the_parser_reads(reply):
    """Its groups, converted as the limiter converts them, are the parser's values;
    no cut of the reply matches, so the client waits for the rest as the parser would."""
    allowed, count, oldest, epoch = _parse_reply(reply)
    found = ONE_CALL_REPLY.fullmatch(reply)
    assert found is not None
    assert ([int(found[1]), int(found[2]), float(found[3]), int(found[4])]
            == [allowed, count, float(oldest), int(epoch)])
    assert not any(ONE_CALL_REPLY.fullmatch(reply[:cut]) for cut in range(len(reply)))


@pytest.mark.parametrize("reply", [*REPLIES[1:], b"-NOSCRIPT No matching script\r\n",
                                   b"*4\r\n:1\r\n:5\r\n$-1\r\n$1\r\n7\r\n"])
def test_any_other_reply_is_left_to_the_parser(reply):
    assert ONE_CALL_REPLY.fullmatch(reply) is None


def test_only_redis_urls_are_spoken():
    with pytest.raises(ValueError, match=re.escape("redis:// or rediss://")):
        RespClient("redis+unix:///run/redis.sock")


# -- the keyed QR image's repeats -----------------------------------------------------


def statements(app) -> list:
    seen = []
    sa.event.listen(app.app.registry["db.engine"], "before_cursor_execute",
                    lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


def test_a_keyed_qr_repeat_asks_the_database_nothing(workers, tenant, other_tenant, create,
                                                     run, database, redis_url, tmp_path):  # noqa: F811
    tracker = create()
    qr = f"/api/v1/trackers/{tracker['id']}/qr/"
    worker = workers[0]
    first = [worker.get(qr, headers=tenant.headers, status=200) for _ in range(3)]
    seen = statements(worker)
    again = worker.get(qr, headers=tenant.headers, status=200)
    assert again.body == first[0].body and again.headers["X-RateLimit-Limit"] == "100"
    assert seen == []
    # Another tenant's key names the same id: its tracker, not ours (none: 404).
    for _ in range(2):
        worker.get(qr, headers=other_tenant.headers, status=404)
    # Revoked: the next request, even for an image it has seen, is refused.
    ini = write_ini(tmp_path / "cli.ini", database.app_url,
                    **{"tracee.ratelimit.storage": redis_url[0]})
    assert run(ini, "key", "revoke", "acme", str(tenant.key_id))[0] == 0
    worker.get(qr, headers=tenant.headers, status=401)


def test_an_epoch_that_moved_reads_the_tracker_again(workers, tenant, create):
    tracker = create()
    qr = f"/api/v1/trackers/{tracker['id']}/qr/"
    worker = workers[0]
    for _ in range(3):
        worker.get(qr, headers=tenant.headers, status=200)
    worker.app.registry["ratelimiter"].epoch.bump()  # as a revocation of any key would
    seen = statements(worker)
    worker.get(qr, headers=tenant.headers, status=200)
    assert any("tracking_links" in s for s in seen)
