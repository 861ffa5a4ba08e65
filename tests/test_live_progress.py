"""The progress view the pages poll: content, versions (ETag / 304), headers."""

import uuid
from contextlib import contextmanager

import pytest
from conftest import make_app
from limits.storage import storage_from_string
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import event
from test_pages_http import hidden as hidden  # noqa: F401  (fixture)
from test_ratelimit import redis_url as redis_url  # noqa: F401  (fixture)
from webtest import TestApp

from tracee.progress_front import ProgressVersions
from tracee.resp import RespClient


def _status(app, tenant, tracker, process, action):
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": process, "action": action}, headers=tenant.headers, status=200)


def _progress(tracker, page="track"):
    token = tracker["tracking_token"]
    return f"/track/{token}/progress.json" if page == "track" else f"/embed/{token}/progress.json"


@pytest.mark.parametrize("page", ["track", "embed"])
def test_progress_shows_visible_steps_only(app, tenant, hidden, page):
    _status(app, tenant, hidden, "Secret internal audit", "start")
    body = app.get(_progress(hidden, page)).json
    assert "secret" not in app.get(_progress(hidden, page)).text.lower()
    assert [s["name"] for s in body["steps"]] == ["Intake", "Dispatch"]
    assert [s["status"] for s in body["steps"]] == ["completed", "pending"]
    assert body["steps"][0]["label"] == "Done"
    assert body["steps"][0]["completed_at"].endswith("Z")
    assert body["steps"][0]["completed_display"].endswith("UTC")
    assert (body["done"], body["total"], body["is_completed"]) == (1, 2, False)
    assert body["headline"] == "Intake done"
    assert set(body) == {"headline", "is_completed", "done", "total", "progress_text",
                         "estimate", "updated_at", "updated_display", "steps"}
    assert body["progress_text"] == "1 of 2 steps done"


def test_progress_headers_fit_a_capability_url(app, hidden):
    response = app.get(_progress(hidden))
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["ETag"] == '"p1-1"'
    assert "script-src" not in response.headers["Content-Security-Policy"]


def test_unknown_token_and_another_tenants_domain_are_not_found(app, make_tenant, tenant, hidden):
    app.get("/track/00000000-0000-4000-8000-000000000000/progress.json", status=404)
    app.get("/track/not-a-token/progress.json", status=404)
    make_tenant("brand", "Brand Co", domain="track.brand.test")
    app.get(_progress(hidden), headers={"Host": "track.brand.test"}, status=404)
    app.get(_progress(hidden, "embed"), headers={"Host": "track.brand.test"}, status=404)


def test_unchanged_progress_is_answered_304_until_a_status_change(app, tenant, hidden):
    first = app.get(_progress(hidden))
    etag = first.headers["ETag"]
    again = app.get(_progress(hidden), headers={"If-None-Match": etag}, status=304)
    assert again.body == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert again.headers["Referrer-Policy"] == "no-referrer"
    # A weak or listed validator matches too, as browsers may send either.
    app.get(_progress(hidden), headers={"If-None-Match": f'"x", W/{etag}'}, status=304)
    app.get(_progress(hidden), headers={"If-None-Match": '"p1-999"'}, status=200)

    _status(app, tenant, hidden, "Intake", "start")
    changed = app.get(_progress(hidden), headers={"If-None-Match": etag}, status=200)
    assert changed.headers["ETag"] != etag
    assert changed.json["steps"][0]["status"] == "in_progress"
    assert changed.json["headline"] == "Intake"
    app.get(_progress(hidden), headers={"If-None-Match": changed.headers["ETag"]}, status=304)


def test_pages_carry_their_version_and_may_run_only_their_own_script(app, hidden):
    for path in (f"/track/{hidden['tracking_token']}", f"/embed/{hidden['tracking_token']}/"):
        page = app.get(path)
        etag = app.get(_progress(hidden)).headers["ETag"].strip('"')
        main = page.html.find("main")
        assert main["data-etag"] == etag
        # In the page's language, so what the script writes matches (tests/test_i18n.py).
        assert main["data-progress"] == path.rstrip("/") + "/progress.json?lang=en"
        assert page.html.find("script")["src"].endswith("/live.js")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    # Without the script the page still says how to see new progress.
    assert "Reload this page to see new progress." in app.get(
        f"/track/{hidden['tracking_token']}").text
    # Other pages run no script at all.
    assert "script-src" not in app.get("/", expect_errors=True).headers.get(
        "Content-Security-Policy", "")




# -- answered in front of the framework ---------------------------------------------

@contextmanager
def counted_queries(wsgi):
    engine = wsgi.registry["db.engine"]
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_an_idle_poll_is_answered_without_the_database(app, tenant, hidden):
    url = _progress(hidden)
    etag = app.get(url).headers["ETag"]  # the full stack answers first
    from_stack = app.get(url, headers={"If-None-Match": etag}, status=304)
    with counted_queries(app.app) as queries:
        front = app.get(url, headers={"If-None-Match": etag}, status=304)
    assert queries == []
    assert {k: v for k, v in front.headers.items() if k != "Date"} == {
        k: v for k, v in from_stack.headers.items() if k != "Date"}

    _status(app, tenant, hidden, "Intake", "complete")
    with counted_queries(app.app) as queries:
        changed = app.get(url, headers={"If-None-Match": etag}, status=200)
    assert queries  # the old version is never answered 304 once the change committed
    assert changed.json["done"] == 1
    with counted_queries(app.app) as queries:
        app.get(url, headers={"If-None-Match": changed.headers["ETag"]}, status=304)
    assert queries == []


def test_the_front_answers_only_where_the_stack_did(app, make_tenant, hidden):
    url = _progress(hidden)
    etag = app.get(url).headers["ETag"]
    brand = make_tenant("brand", "Brand Co", domain="track.brand.test")
    on_brand = {"Host": "track.brand.test"}
    app.get(url, headers={"If-None-Match": etag, **on_brand}, status=404)
    # Once the brand's domain has answered its own tracker, another tenant's
    # token there is still not found, however current the version it names.
    own = app.post_json("/api/v1/trackers/", {"name": "Brand order"},
                        headers=brand.headers, status=201).json
    own_etag = app.get(_progress(own), headers=on_brand).headers["ETag"]
    with counted_queries(app.app) as queries:
        app.get(_progress(own), headers={"If-None-Match": own_etag, **on_brand}, status=304)
    assert queries == []
    app.get(url, headers={"If-None-Match": etag, **on_brand}, status=404)
    app.get(url + "?x=1", headers={"If-None-Match": etag}, status=304)  # through the stack
    app.get("/track/00000000-0000-4000-8000-000000000000/progress.json",
            headers={"If-None-Match": '"p1-0"'}, status=404)


def test_versions_only_rise(redis_url):
    url, _ = redis_url
    for storage in ("memory://", url):
        wire = None if storage == "memory://" else RespClient(storage)
        versions = ProgressVersions(storage_from_string(storage), wire)
        token = str(uuid.uuid4())
        assert versions.get(token) is None
        versions.raise_to(token, 3)
        versions.raise_to(token, 2)  # a reader that read before the change came late
        assert versions.get(token) == 3
        versions.raise_to(token, 4)
        assert versions.get(token) == 4


def test_a_change_through_one_worker_ends_idle_304s_on_another(database, redis_url, tenant):
    url, _ = redis_url
    one, two = (TestApp(make_app(database, **{"tracee.ratelimit.storage": url}))
                for _ in range(2))
    tracker = two.post_json("/api/v1/trackers/", {"name": "Order #9", "template": "3d-printing"},
                            headers=tenant.headers, status=201).json
    progress = _progress(tracker)
    etag = two.get(progress).headers["ETag"]
    # The platform's host, once it has answered one poll here, serves any token
    # whose version the other worker has shared.
    one.get(_progress(create_other(one, tenant)))
    with counted_queries(one.app) as queries:
        one.get(progress, headers={"If-None-Match": etag}, status=304)
    assert queries == []
    _status(two, tenant, tracker, "3D Printing", "start")
    fresh = one.get(progress, headers={"If-None-Match": etag}, status=200)
    assert fresh.json["headline"] == "3D Printing"
    with counted_queries(one.app) as queries:
        one.get(progress, headers={"If-None-Match": fresh.headers["ETag"]}, status=304)
    assert queries == []


def create_other(client, tenant):
    return client.post_json("/api/v1/trackers/", {"name": "Order #10"}, headers=tenant.headers,
                            status=201).json


def test_a_storage_failure_sends_polls_through_the_stack(app, hidden, monkeypatch):
    url = _progress(hidden)
    etag = app.get(url).headers["ETag"]
    versions = app.app.registry["progress_versions"]

    def unreachable(*_args):
        raise RedisConnectionError("down")

    monkeypatch.setattr(versions, "get", unreachable)
    with counted_queries(app.app) as queries:
        app.get(url, headers={"If-None-Match": etag}, status=304)
    assert queries  # answered by the view, from the database


def test_progress_speaks_the_themes_step_names(app, tenant, create):
    """The poll shows what the page shows: the theme's name and description for a step."""
    app.put_json("/api/v1/branding/", {"steps": [
        {"template": "3d-printing", "step": "3D Printing", "label": "Shaping your vase",
         "description": "Layer by layer"}]}, headers=tenant.headers)
    tracker = create()
    _status(app, tenant, tracker, "3D Printing", "start")
    body = app.get(_progress(tracker)).json
    printing = next(s for s in body["steps"] if s["status"] == "in_progress")
    assert (printing["name"], printing["description"]) == ("Shaping your vase", "Layer by layer")
    assert body["headline"] == "Shaping your vase"
    page = app.get(f"/track/{tracker['tracking_token']}")
    assert "Shaping your vase" in page.text and "Layer by layer" in page.text
