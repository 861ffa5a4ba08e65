"""Every header the hot reads answer with, by name and in order, and the
Content-Type the API picks for each Accept (tracee.headers, tracee.api,
tracee.api.json_renderer): a header that went missing, twice or astray would
show here."""

import json

import pytest
from pyramid.renderers import RendererHelper

API = ["Content-Type", "Content-Length", "X-Content-Type-Options", "Content-Security-Policy",
       "Cache-Control", "Referrer-Policy", "X-Frame-Options", "X-RateLimit-Limit",
       "X-RateLimit-Remaining", "X-RateLimit-Reset"]
PAGE = ["Cache-Control", "Vary", "Content-Type", "Content-Length", "X-Content-Type-Options",
        "Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"]


def names(response) -> list[str]:
    return [name for name, _ in response.headerlist]


@pytest.fixture
def tracker(create):
    return create(name="Order #1234 - Blue Vase")


def test_keyed_get_headers(app, tenant, tracker):
    response = app.get(tracker["api_url"], headers=tenant.headers)
    assert names(response) == API
    headers = response.headers
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(response.body)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert (headers["Cache-Control"], headers["Referrer-Policy"], headers["X-Frame-Options"]) == (
        "no-store", "no-referrer", "DENY")
    assert headers["X-RateLimit-Limit"] == "100"


def test_api_error_headers_once_each(app, tenant):
    response = app.get("/api/v1/trackers/999/", headers=tenant.headers, status=404)
    assert sorted(names(response)) == sorted(API)
    assert response.headers["Content-Type"] == "application/json"


def test_a_refusal_carries_the_limit_headers_once(app, make_tenant):
    tenant = make_tenant("slow", rate_limit="1/minute")
    app.get("/api/v1/trackers/", headers=tenant.headers)
    refused = app.get("/api/v1/trackers/", headers=tenant.headers, status=429)
    counted = [name for name in names(refused) if name.startswith("X-RateLimit-")]
    assert counted == ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_tracking_page_headers(app, tracker):
    response = app.get(f"/track/{tracker['tracking_token']}")
    assert names(response) == PAGE
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_embed_headers(app, tracker):
    response = app.get(f"/embed/{tracker['tracking_token']}/")
    assert names(response) == [name for name in PAGE if name != "X-Frame-Options"]
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]


def test_a_referrer_policy_already_set_is_replaced_on_capability_paths(app):
    response = app.get("/track/not-a-token", status=404)
    assert [v for k, v in response.headerlist if k == "Referrer-Policy"] == ["no-referrer"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("accept", "content_type"), [
    (None, "application/json"),
    ("application/json", "application/json"),
    ("*/*", "application/json"),
    ("application/xml", "application/json"),
    ("text/plain", "text/plain; charset=UTF-8"),
    ("application/json;q=0.5, text/plain", "text/plain; charset=UTF-8"),
])
def test_content_type_by_accept(app, tenant, tracker, accept, content_type):
    headers = dict(tenant.headers)
    if accept is not None:
        headers["Accept"] = accept
    response = app.get(tracker["api_url"], headers=headers)
    assert response.headers["Content-Type"] == content_type
    plain = app.get(tracker["api_url"], headers=tenant.headers)
    assert json.loads(response.body) == json.loads(plain.body)
    assert len(response.body) == len(plain.body)


def test_a_keyed_read_answers_as_the_renderer_would_without_it(app, tenant, tracker,
                                                               monkeypatch):
    """GET a tracker makes its JSON answer itself (tracee.api.json_renderer.json_answer);
    asked with another Accept, the renderer makes it: the same bytes, the same headers."""
    rendered = []
    render_view = RendererHelper.render_view

    def spy(self, *args, **kwargs):
        rendered.append(self.name)
        return render_view(self, *args, **kwargs)

    monkeypatch.setattr(RendererHelper, "render_view", spy)
    made = app.get(tracker["api_url"], headers=tenant.headers)
    assert rendered == []
    negotiated = app.get(tracker["api_url"], headers={**tenant.headers, "Accept": "*/*"})
    assert rendered == ["cornicejson"]
    assert made.body == negotiated.body

    def steady(response):  # the count moves on with each request
        return [h for h in response.headerlist if h[0] != "X-RateLimit-Remaining"]

    assert steady(made) == steady(negotiated)
