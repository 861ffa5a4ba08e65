"""The per-worker key cache (tracee.api.key_cache_seconds): what it saves and its window.

Off by default (so revocation is immediate in tests and development);
production.ini turns it on for a few seconds.
"""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import make_app
from webtest import TestApp

from tracee.api.keys import ActiveKey, KeyCache


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_cache_keeps_a_key_for_its_window_only():
    clock = Clock()
    cache = KeyCache(5, clock=clock)
    key = ActiveKey(1, 7, None, None)
    cache.put("h", key)
    clock.now += 4.9
    assert cache.get("h") is key
    clock.now += 0.1
    assert cache.get("h") is None


def test_cache_is_off_at_zero_seconds():
    cache = KeyCache(0)
    cache.put("h", ActiveKey(1, 7, None, None))
    assert cache.get("h") is None


def test_cache_stays_bounded():
    cache = KeyCache(60, max_entries=3)
    for n in range(10):
        cache.put(str(n), ActiveKey(n, 1, None, None))
    assert len(cache._entries) <= 3
    assert cache.get("9") is not None


@pytest.fixture
def cached(database):
    """An app whose workers remember keys for 5 s, on a clock the test moves."""
    app = make_app(database, **{"tracee.api.key_cache_seconds": "5"})
    clock = Clock()
    app.registry["api.key_cache"].clock = clock
    yield TestApp(app), clock
    app.registry["db.engine"].dispose()


def _revoke(database, key_id):
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET revoked_at = :now WHERE id = :id"),
                     {"now": datetime.now(UTC), "id": key_id})


def test_a_revoked_key_stops_working_within_the_window(cached, database, tenant):
    app, clock = cached
    app.get("/api/v1/templates/", headers=tenant.headers, status=200)
    _revoke(database, tenant.key_id)
    app.get("/api/v1/templates/", headers=tenant.headers, status=200)  # still remembered
    clock.now += 5
    response = app.get("/api/v1/templates/", headers=tenant.headers, status=401)
    assert response.json["errors"][0]["name"] == "X-API-Key"


def test_a_key_revoked_before_it_is_cached_never_works(cached, database, tenant):
    app, _ = cached
    _revoke(database, tenant.key_id)
    app.get("/api/v1/templates/", headers=tenant.headers, status=401)


def test_cached_keys_still_count_against_their_rate_limit(cached, make_tenant):
    app, _ = cached
    limited = make_tenant("limited", rate_limit="2/minute")
    statuses = [app.get("/api/v1/templates/", headers=limited.headers, expect_errors=True)
                .status_int for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_last_used_is_written_once_a_minute_even_when_cached(cached, database, tenant):
    app, _ = cached

    def last_used():
        with database.admin_engine.connect() as conn:
            return conn.scalar(sa.text("SELECT last_used_at FROM api_keys WHERE id = :id"),
                               {"id": tenant.key_id})

    assert last_used() is None
    app.get("/api/v1/templates/", headers=tenant.headers, status=200)
    first = last_used()
    assert first is not None
    app.get("/api/v1/templates/", headers=tenant.headers, status=200)
    assert last_used() == first
