"""A path is judged by what traversal resolves it to, not by how it is spelled.

``/./track/<t>``, ``/x/../track/<t>`` and ``//track/<t>`` (gunicorn passes
doubled slashes through) all serve the tracking page, so they share its
per-address budget and its referrer rule.
"""

import pytest
from conftest import make_app
from webtest import TestApp

from tracee.paths import first_segment

SPELLINGS = [
    "/track/{t}", "/./track/{t}", "/x/../track/{t}", "//track/{t}", "/api/../track/{t}",
    "/track/./{t}", "/track//{t}", "/embed/{t}/../../track/{t}", "/embed/./{t}/",
]


@pytest.mark.parametrize(("path", "first"), [
    ("/track/abc", "track"), ("/", ""), ("", ""), ("/./track/abc", "track"),
    ("/x/../embed/abc/", "embed"), ("//track/abc", "track"), ("/../../track", "track"),
    ("/track/abc/../../api/v1", "api"), ("/..", ""), ("track/abc", "track"),
    ("/.well-known/x", ".well-known"),
])
def test_first_segment_is_the_one_traversal_resolves(path, first):
    assert first_segment(path) == first


@pytest.fixture
def paged(database, tenant):
    app = TestApp(make_app(database, **{"tracee.ratelimit.public": "3/minute"}))
    created = app.post_json("/api/v1/trackers/", {"name": "Order #1"}, headers=tenant.headers,
                            status=201).json
    return app, created["tracking_token"]


def page(app, path, status):
    # PATH_INFO as a server hands it over: WebTest would read "//track" as a host name.
    return app.get("/", extra_environ={"PATH_INFO": path, "REMOTE_ADDR": "203.0.113.50"},
                   status=status)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_tracking_page_is_one_with_it(paged, spelling):
    app, token = paged
    path = spelling.format(t=token)
    served = page(app, path, 200)
    assert "Order #1" in served.text  # it is the page
    assert served.headers["Referrer-Policy"] == "no-referrer"
    assert served.headers["Cache-Control"] == "private, no-cache"


def test_respellings_share_the_pages_budget(paged):
    app, token = paged
    for spelling in ("/track/{t}", "/./track/{t}", "/x/../embed/{t}/"):
        page(app, spelling.format(t=token), 200)
    for spelling in SPELLINGS:
        refused = page(app, spelling.format(t=token), 429)
        assert refused.headers["Referrer-Policy"] == "no-referrer"


def test_a_path_spelled_as_a_page_but_resolved_elsewhere_sends_no_referrer(paged):
    app, token = paged
    response = page(app, f"/track/{token}/../../nowhere", 404)
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_api_paths_respelled_into_the_api_answer_as_the_api(paged, tenant):
    app, _ = paged
    response = app.get("/", headers=tenant.headers, status=404, extra_environ={
        "PATH_INFO": "/x/../api/v1/nowhere"})
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
