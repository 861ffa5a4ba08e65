"""Rate limits: per API key on the API (100/minute by default, or the key's own),
per client address on the public pages, in memory or in Redis."""

import os
import time
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from conftest import make_app
from limits import parse
from test_hostile_input import assert_json_error
from webtest import TestApp

from tracee.api.keys import generate_key, issue_key
from tracee.proxies import TrustedProxies
from tracee.ratelimit import RateLimiter

REDIS_URL = os.environ.get("TRACEE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def limit_headers(response) -> tuple[int, int, int]:
    return tuple(int(response.headers[h]) for h in HEADERS)


def assert_429(response, limit):
    assert response.status_int == 429
    assert response.content_type == "application/json"
    body = response.json
    assert body["status"] == "error"
    (error,) = body["errors"]
    assert error["location"] == "header" and error["name"] == "X-API-Key"
    assert f"rate limit of {limit} requests" in error["description"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    got_limit, remaining, _ = limit_headers(response)
    assert (got_limit, remaining) == (limit, 0)


def test_the_101st_request_in_a_minute_is_refused(app, tenant):
    remaining = []
    for _ in range(100):
        response = app.get("/api/v1/templates/", headers=tenant.headers, status=200)
        remaining.append(limit_headers(response)[1])
    assert remaining == list(range(99, -1, -1))
    refused = app.get("/api/v1/templates/", headers=tenant.headers, expect_errors=True)
    assert_429(refused, 100)
    # refused requests do nothing: a create is refused as well, and nothing is written
    created = app.post_json("/api/v1/trackers/", {"name": "x"}, headers=tenant.headers,
                            expect_errors=True)
    assert_429(created, 100)


def test_refused_requests_write_nothing(app, database, make_tenant):
    slow = make_tenant("slow", rate_limit="2/minute")
    for _ in range(2):
        app.post_json("/api/v1/trackers/", {"name": "x"}, headers=slow.headers, status=201)
    assert_429(app.post_json("/api/v1/trackers/", {"name": "y"}, headers=slow.headers,
                             expect_errors=True), 2)
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM trackers")) == 2


def test_every_api_response_carries_the_headers(app, tenant, create):
    tracker = create()
    path = f"/api/v1/trackers/{tracker['id']}/"
    requests = [
        ("GET", "/api/v1/trackers/", None, 200),
        ("POST", "/api/v1/trackers/", {"name": "Order #5"}, 201),
        ("GET", path, None, 200),
        ("POST", path + "status/", {"process": "3D Printing", "action": "start"}, 200),
        ("GET", path + "qr/", None, 200),
        ("GET", "/api/v1/templates/", None, 200),
        ("GET", "/api/v1/templates/3d-printing/", None, 200),
        ("POST", "/api/v1/trackers/", {"name": 5}, 400),  # validation error
        ("POST", "/api/v1/trackers/", {"name": "x", "number": 5}, 409),  # conflict
        ("GET", "/api/v1/trackers/999/", None, 404),  # not found
        ("GET", "/api/v1/trackers/abc/", None, 400),  # bad id
        ("DELETE", path, None, 405),  # wrong method
    ]
    previous = None
    for method, url, body, status in requests:
        if body is None:
            response = app.request(url, method=method, headers=tenant.headers, status=status)
        else:
            response = app.request(url, method=method, json=body, headers=tenant.headers,
                                   status=status)
        limit, remaining, reset = limit_headers(response)
        assert limit == 100, url
        now = time.time()
        assert now - 1 <= reset <= now + 61, (url, reset - now)
        if previous is not None:
            assert remaining == previous - 1, (method, url, status)
        previous = remaining


def test_a_keys_own_rate_limit_is_honoured(app, make_tenant):
    five = make_tenant("five", rate_limit="5/minute")
    seen = [limit_headers(app.get("/api/v1/trackers/", headers=five.headers))[:2]
            for _ in range(5)]
    assert seen == [(5, 4), (5, 3), (5, 2), (5, 1), (5, 0)]
    assert_429(app.get("/api/v1/trackers/", headers=five.headers, expect_errors=True), 5)


def test_limits_are_per_key(app, registry, make_tenant):
    first = make_tenant("first", rate_limit="3/minute")
    other_tenant = make_tenant("second", rate_limit="3/minute")
    session = registry["db.session_factory"]()
    sibling = issue_key(session, first.id, "sibling key", "3/minute").secret
    session.commit()
    session.close()
    for _ in range(3):
        app.get("/api/v1/trackers/", headers=first.headers, status=200)
    assert_429(app.get("/api/v1/trackers/", headers=first.headers, expect_errors=True), 3)
    # another tenant's key, and another key of the same tenant, are untouched
    for headers in (other_tenant.headers, {"X-API-Key": sibling}):
        response = app.get("/api/v1/trackers/", headers=headers, status=200)
        assert limit_headers(response)[:2] == (3, 2)


def other_key(key: str) -> str:
    """The key with its last character changed (to another one, whatever it was)."""
    return key[:-1] + ("y" if key.endswith("x") else "x")


def test_unauthenticated_requests_do_not_spend_a_keys_budget(app, tenant):
    wrong = other_key(tenant.key)
    for _ in range(5):
        app.get("/api/v1/trackers/", headers={"X-API-Key": wrong}, status=401)
    assert limit_headers(app.get("/api/v1/trackers/", headers=tenant.headers))[1] == 99


@pytest.fixture
def public_app(database):
    return TestApp(make_app(database, **{"tracee.ratelimit.public": "3/minute"}))


@pytest.fixture
def token(public_app, tenant):
    created = public_app.post_json("/api/v1/trackers/", {"name": "Order #1", "template":
                                   "3d-printing"}, headers=tenant.headers, status=201)
    return created.json["tracking_token"]


def from_addr(address, **extra):
    return {"REMOTE_ADDR": address, **extra}


def test_public_pages_are_limited_per_client_address(public_app, token):
    here = from_addr("203.0.113.7")
    # the page, the widget and the QR image share one budget per address
    for path in (f"/track/{token}", f"/embed/{token}/", f"/track/{token}/qr.png"):
        public_app.get(path, extra_environ=here, status=200)
    refused = public_app.get(f"/track/{token}", extra_environ=here, status=429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (refused.headers["X-RateLimit-Limit"], refused.headers["X-RateLimit-Remaining"]) == (
        "3", "0")
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert refused.headers["Referrer-Policy"] == "no-referrer"
    # another address is unaffected
    public_app.get(f"/track/{token}", extra_environ=from_addr("198.51.100.1"), status=200)


def test_forged_forwarded_for_does_not_escape_the_limit(public_app, token):
    """Without trusted proxies configured, X-Forwarded-For is the client's to write:
    REMOTE_ADDR is what counts."""
    for n in range(3):
        public_app.get(f"/track/{token}", status=200, extra_environ=from_addr(
            "203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"))
    public_app.get(f"/track/{token}", status=429, extra_environ=from_addr(
        "203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.99"))


def behind(settings_database, trusted: str):
    return TestApp(make_app(settings_database, **{"tracee.ratelimit.public": "3/minute",
                                                  "tracee.proxy.trusted": trusted}))


def test_behind_trusted_proxies_the_address_they_saw_counts(database, token):
    """From a trusted proxy, the last X-Forwarded-For entry that is not one of ours
    is the client; anything left of it is the client's own claim and is ignored."""
    app = behind(database, "10.0.0.0/8")
    balancer = "10.1.1.1"
    for n in range(3):
        app.get(f"/track/{token}", status=200, extra_environ=from_addr(
            balancer, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.20, 10.2.2.2"))
    app.get(f"/track/{token}", status=429, extra_environ=from_addr(
        balancer, HTTP_X_FORWARDED_FOR="1.2.3.99, 198.51.100.20"))
    # another customer behind the same balancer has a budget of their own
    app.get(f"/track/{token}", status=200, extra_environ=from_addr(
        balancer, HTTP_X_FORWARDED_FOR="198.51.100.21"))


def test_forwarded_for_from_anyone_else_is_not_believed(database, token):
    """A client that reaches the server directly cannot name itself in X-Forwarded-For."""
    app = behind(database, "10.0.0.0/8")
    for n in range(3):
        app.get(f"/track/{token}", status=200, extra_environ=from_addr(
            "203.0.113.30", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"))
    app.get(f"/track/{token}", status=429, extra_environ=from_addr(
        "203.0.113.30", HTTP_X_FORWARDED_FOR="198.51.100.99"))


def test_a_proxy_on_a_unix_socket_is_trusted_when_listed(database, token):
    app = behind(database, "127.0.0.1 unix")
    for n in range(4):  # gunicorn on a socket: REMOTE_ADDR is empty
        app.get(f"/track/{token}", status=200, extra_environ=from_addr(
            "", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"))


@pytest.mark.parametrize(("trusted", "environ", "client"), [
    ("", {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "127.0.0.1"),
    ("127.0.0.1", {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "9.9.9.9, 1.2.3.4"},
     "1.2.3.4"),
    ("127.0.0.1", {"REMOTE_ADDR": "127.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "127.0.0.2"),
    ("127.0.0.1", {"REMOTE_ADDR": "::ffff:127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"},
     "1.2.3.4"),
    ("::1", {"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "2001:db8::7"}, "2001:db8::7"),
    ("127.0.0.1", {"REMOTE_ADDR": "127.0.0.1"}, "127.0.0.1"),
    ("127.0.0.1 10.0.0.0/8", {"REMOTE_ADDR": "127.0.0.1",
                              "HTTP_X_FORWARDED_FOR": "10.0.0.5, 10.0.0.6"}, "10.0.0.5"),
    ("127.0.0.1", {"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "unknown"),
    ("unix", {"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "1.2.3.4"),
])
def test_client_address(trusted, environ, client):
    assert TrustedProxies(trusted).client_address(environ) == client


@pytest.mark.parametrize(("settings", "says"), [
    ({"tracee.proxy.trusted": "127.0.0.1 localhost"}, "'localhost' is not an IP address"),
    ({"tracee.ratelimit.proxy_hops": "1"}, "tracee.proxy.trusted instead"),
    ({"tracee.ratelimit.unknown_keys": "0/minute"}, "tracee.ratelimit.unknown_keys"),
])
def test_proxy_and_limit_settings_are_checked_at_start(database, settings, says):
    with pytest.raises(ValueError, match=says):
        make_app(database, **settings)


def test_guessing_tokens_is_limited_too(public_app):
    here = from_addr("203.0.113.8")
    for _ in range(3):
        public_app.get(f"/track/{uuid.uuid4()}", extra_environ=here, status=404)
    public_app.get(f"/track/{uuid.uuid4()}", extra_environ=here, status=429)


def test_the_public_limit_does_not_apply_to_the_api(public_app, tenant, token):
    here = from_addr("203.0.113.10")
    for _ in range(5):
        public_app.get("/api/v1/trackers/", headers=tenant.headers, extra_environ=here,
                       status=200)
    public_app.get(f"/track/{token}", extra_environ=here, status=200)


# -- unknown keys, per client address -----------------------------------------------

@pytest.fixture
def guarded(database):
    """An app allowing 3 unknown keys a minute per address, and a count of its SQL."""
    app = make_app(database, **{"tracee.ratelimit.unknown_keys": "3/minute"})
    statements = []
    sa.event.listen(app.registry["db.engine"], "before_cursor_execute",
                    lambda *args: statements.append(args[2]))
    yield TestApp(app), statements
    app.registry["db.engine"].dispose()


def test_unknown_keys_are_limited_per_address_before_the_database(guarded, tenant):
    app, statements = guarded
    here = from_addr("203.0.113.60")
    unknown = {"X-API-Key": generate_key()}  # well formed, so it must be looked up
    for _ in range(3):
        app.get("/api/v1/trackers/", headers=unknown, extra_environ=here, status=401)
    assert statements, "unknown keys are looked up"
    # The miss over the limit is the last one looked up; the worker remembers the refusal.
    first = app.get("/api/v1/trackers/", headers=unknown, extra_environ=here, status=429)
    assert limit_headers(first)[:2] == (3, 0) and int(first.headers["Retry-After"]) >= 1
    statements.clear()
    for headers in (unknown, {"X-API-Key": generate_key()}, tenant.headers):
        refused = app.get("/api/v1/trackers/", headers=headers, extra_environ=here, status=429)
        assert_json_error(refused, 429, name="X-API-Key", says="unknown or revoked API keys")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert limit_headers(refused)[:2] == (3, 0)
    assert statements == []  # refused from memory: no lookup, not even of the valid key
    # Another address is untouched, with a valid key and with an unknown one.
    there = from_addr("198.51.100.60")
    app.get("/api/v1/trackers/", headers=tenant.headers, extra_environ=there, status=200)
    app.get("/api/v1/trackers/", headers=unknown, extra_environ=there, status=401)


def test_revoked_keys_count_as_unknown_and_malformed_ones_cost_nothing(guarded, tenant,
                                                                       database):
    app, _ = guarded
    here = from_addr("203.0.113.61")
    for _ in range(10):  # a failed checksum is refused without a lookup, and not counted
        app.get("/api/v1/trackers/", headers={"X-API-Key": other_key(tenant.key)},
                extra_environ=here, status=401)
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"))
    for status in (401, 401, 401, 429):
        app.get("/api/v1/trackers/", headers=tenant.headers, extra_environ=here, status=status)


def test_a_valid_key_never_touches_the_unknown_key_budget(guarded, tenant, monkeypatch):
    app, _ = guarded
    limiter = app.app.registry["ratelimiter"]
    used, hit = [], limiter.hit
    monkeypatch.setattr(limiter, "hit", lambda namespace, *a, **kw: (
        used.append(namespace), hit(namespace, *a, **kw))[1])
    for _ in range(5):
        app.get("/api/v1/trackers/", headers=tenant.headers, status=200)
    assert used == ["key"] * 5


def test_a_remembered_refusal_ends_with_its_window(monkeypatch):
    limiter = RateLimiter("memory://", "5/minute", "5/minute", "1/minute")
    assert limiter.hit_remembering_refusal("unknown-key", "a").allowed
    assert not limiter.remembers_refusals
    refused = limiter.hit_remembering_refusal("unknown-key", "a")
    assert not refused.allowed and limiter.remembers_refusals
    assert limiter.refused_until("unknown-key", "a") == refused.reset_at
    assert limiter.refused_until("unknown-key", "b") is None
    monkeypatch.setattr("tracee.ratelimit.time", SimpleNamespace(time=lambda: refused.reset_at))
    assert limiter.refused_until("unknown-key", "a") is None
    assert not limiter.remembers_refusals


# -- Redis --------------------------------------------------------------------

@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("TRACEE_TEST_REQUIRE_REDIS", "") not in ("", "0"):
            pytest.fail(f"Redis unreachable at {REDIS_URL}: {exc} "
                        "(required by TRACEE_TEST_REQUIRE_REDIS)", pytrace=False)
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    yield REDIS_URL, client
    client.close()


def test_redis_storage_counts_and_refuses(redis_url):
    url, client = redis_url
    limiter = RateLimiter(url, "3/minute", "2/minute")
    key = f"test-{uuid.uuid4()}"
    verdicts = [limiter.hit("key", key) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert all(v.limit == 3 for v in verdicts)
    assert verdicts[-1].retry_after <= 60 and verdicts[-1].reset_at > time.time()
    # the counts live in Redis ...
    assert any(key in k.decode() for k in client.scan_iter(match=f"*{key}*"))
    # ... so a second worker sees the same budget
    assert RateLimiter(url, "3/minute", "2/minute").hit("key", key).allowed is False
    assert limiter.hit("key", f"other-{uuid.uuid4()}").allowed is True
    # the public namespace uses the public default, a key may carry its own
    addr = f"addr-{uuid.uuid4()}"
    assert [limiter.hit("addr", addr).allowed for _ in range(3)] == [True, True, False]
    own = f"own-{uuid.uuid4()}"
    assert [limiter.hit("key", own, "1/minute").allowed for _ in range(2)] == [True, False]


def test_the_app_limits_across_workers_with_redis(database, redis_url, make_tenant):
    url, _ = redis_url
    tenant = make_tenant("shared", rate_limit="4/minute")
    settings = {"tracee.ratelimit.storage": url}
    workers = [TestApp(make_app(database, **settings)) for _ in range(2)]
    workers[0].app.registry["ratelimiter"].reset()  # nothing left from an earlier run
    try:
        for n in range(4):
            workers[n % 2].get("/api/v1/trackers/", headers=tenant.headers, status=200)
        response = workers[0].get("/api/v1/trackers/", headers=tenant.headers, status=429)
        assert_429(response, 4)
    finally:
        workers[0].app.registry["ratelimiter"].reset()


def test_unknown_keys_are_counted_across_workers_with_redis(database, redis_url):
    url, _ = redis_url
    settings = {"tracee.ratelimit.storage": url, "tracee.ratelimit.unknown_keys": "2/minute"}
    workers = [TestApp(make_app(database, **settings)) for _ in range(2)]
    workers[0].app.registry["ratelimiter"].reset()
    here, unknown = from_addr("203.0.113.62"), {"X-API-Key": generate_key()}
    try:
        for worker in workers:
            worker.get("/api/v1/trackers/", headers=unknown, extra_environ=here, status=401)
        # The second worker's next miss finds the shared count full.
        workers[1].get("/api/v1/trackers/", headers=unknown, extra_environ=here, status=429)
        assert workers[1].app.registry["ratelimiter"].remembers_refusals
    finally:
        workers[0].app.registry["ratelimiter"].reset()


def count_round_trips(limiter, monkeypatch) -> list:
    """Every Redis round trip the limiter makes: its own socket's calls, and any
    connection redis-py's pool hands out."""
    trips = []
    pool = limiter.storage.get_connection().connection_pool
    checkout, call = pool.get_connection, limiter.wire._call
    monkeypatch.setattr(pool, "get_connection",
                        lambda *a, **kw: (trips.append("redis-py"), checkout(*a, **kw))[1])
    monkeypatch.setattr(limiter.wire, "_call",
                        lambda *a, **kw: (trips.append("resp"), call(*a, **kw))[1])
    return trips


def test_a_valid_key_costs_one_redis_round_trip(database, redis_url, tenant, monkeypatch):
    url, _ = redis_url
    app = TestApp(make_app(database, **{"tracee.ratelimit.storage": url}))
    limiter = app.app.registry["ratelimiter"]
    limiter.reset()
    trips = count_round_trips(limiter, monkeypatch)
    try:
        app.get("/api/v1/trackers/", headers=tenant.headers, status=200)
        assert len(trips) == 1
    finally:
        limiter.reset()


def test_redis_hit_is_one_round_trip_and_survives_lost_scripts(redis_url, monkeypatch):
    url, client = redis_url
    limiter = RateLimiter(url, "2/minute", "2/minute")
    checkouts = count_round_trips(limiter, monkeypatch)
    key = f"trip-{uuid.uuid4()}"
    first = limiter.hit("key", key)
    assert (first.allowed, first.remaining) == (True, 1)
    assert len(checkouts) == 1
    client.script_flush()  # as after a Redis restart: the scripts must be loaded again
    second, third = limiter.hit("key", key), limiter.hit("key", key)
    assert [(v.allowed, v.remaining) for v in (second, third)] == [(True, 0), (False, 0)]
    assert 59 <= third.reset_at - time.time() <= 60


def test_redis_counts_under_the_keys_limits_names_and_remembers_them_bounded(
        redis_url, monkeypatch):
    url, client = redis_url
    limiter = RateLimiter(url, "3/minute", "2/minute")
    key, own = f"named-{uuid.uuid4()}", f"own-{uuid.uuid4()}"
    limiter.hit("key", key)
    limiter.hit("key", own, "1/hour")
    for identity, item in ((key, limiter.defaults["key"]), (own, parse("1/hour"))):
        name = limiter.storage.prefixed_key(item.key_for("key", identity))
        assert client.llen(name) == 1  # the window limits' own strategy reads
        assert 0 < client.ttl(name) <= item.get_expiry()
    # The same identity under another rate is another window.
    assert limiter.hit("key", own, "5/hour").remaining == 4
    # Bounded: a full memory starts again, and counting goes on in Redis.
    monkeypatch.setattr(RateLimiter, "MAX_REMEMBERED", 3)
    others = [f"many-{uuid.uuid4()}" for _ in range(3)]
    for identity in others:
        limiter.hit("addr", identity)
    assert len(limiter._windows) <= 3
    assert limiter.hit("key", key).remaining == 1
    assert limiter.hit("addr", others[0]).remaining == 0
