"""What Pyramid does per request: one request class, no events (tracee.request)."""

from pyramid.interfaces import IRequestExtensions, IRequestFactory


def test_request_attributes_are_on_one_class_made_at_start(registry):
    assert registry.queryUtility(IRequestExtensions) is None
    factory = registry.queryUtility(IRequestFactory)
    for name in ("db", "urls", "client_address", "csp_nonce", "current_service", "login",
                 "validated", "errors", "info"):
        assert name in dir(factory), name


def test_no_event_is_sent_per_request(registry):
    assert not list(registry.registeredHandlers())
    assert not registry.has_listeners


def test_what_cornice_hooked_in_still_holds(app, tenant):
    # Its validation errors (request.errors) and nosniff, and the limiter's headers on errors.
    bad = app.post_json("/api/v1/trackers/", {"name": ""}, headers=tenant.headers, status=400)
    assert bad.json["errors"][0]["name"] == "name"
    assert bad.headers["X-Content-Type-Options"] == "nosniff"
    assert bad.headers["X-RateLimit-Limit"] == "100"
    missing = app.get("/api/v1/trackers/999/", headers=tenant.headers, status=404)
    assert int(missing.headers["X-RateLimit-Remaining"]) < 100


def test_only_addresses_that_are_not_utf8_are_refused(app):
    # tracee.encoding reads the path and query only when they could fail to decode.
    app.get("/track/%C3%A9", status=404)
    app.get("/nowhere?q=%C3%A9", status=404)
    app.get("/nowhere", status=404)
    app.get("/track/%FF", status=400)
    app.get("/nowhere?q=%FF", status=400)
    app.get("/nowhere?%FF", status=400)
