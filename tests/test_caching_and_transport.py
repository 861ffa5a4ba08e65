"""What caches may keep, what browsers must use https for, and what a header may repeat.

Tracking pages change with every step and their address is a capability;
error answers are about one moment; the keyed QR image's address may carry
the key; a production site on https tells browsers to stay on https.
"""

from pathlib import Path

import sqlalchemy as sa
from conftest import make_app
from pyramid.paster import get_appsettings
from webtest import TestApp

import tracee

ONE_YEAR = "max-age=31536000"
PRODUCTION_INI = Path(__file__).parents[1] / "production.ini"


def test_tracking_pages_are_revalidated_and_kept_by_no_shared_cache(app, create):
    token = create()["tracking_token"]
    for path in (f"/track/{token}", f"/embed/{token}/"):
        assert app.get(path).headers["Cache-Control"] == "private, no-cache"
    # The public QR image never changes for its address: it stays cacheable.
    assert app.get(f"/track/{token}/qr.png").headers["Cache-Control"] == "public, max-age=86400"


def test_error_pages_are_never_stored(database, create):
    app = TestApp(make_app(database, **{"tracee.ratelimit.public": "1/minute"}))
    assert app.get("/track/not-a-token", status=404).headers["Cache-Control"] == "no-store"
    assert app.get("/nowhere", status=404).headers["Cache-Control"] == "no-store"
    app.get("/nowhere-else", status=404)
    refused = app.get("/track/not-a-token", status=429)
    assert refused.headers["Cache-Control"] == "no-store"


def test_the_keyed_qr_image_is_never_stored(app, tenant, create):
    tracker = create()
    url = f"/api/v1/trackers/{tracker['id']}/qr/"
    by_header = app.get(url, headers=tenant.headers)
    by_query = app.get(f"{url}?api_key={tenant.key}")
    for response in (by_header, by_query):
        assert response.content_type == "image/png"
        assert response.headers["Cache-Control"] == "private, no-store"


def test_link_repeats_only_the_paging_and_filters_the_list_knows(app, tenant, create):
    for n in range(3):
        create(f"Vase {n}")
    response = app.get(
        "/api/v1/trackers/", headers=tenant.headers,
        params={"api_key": tenant.key, "per_page": "1", "q": "Vase", "completed": "false",
                "utm_source": "mail", "page": "2"},
    )
    link = response.headers["Link"]
    assert tenant.key not in link and "api_key" not in link and "utm_source" not in link
    assert link.count("q=Vase") == link.count("completed=false") == link.count("per_page=1") == 4
    assert 'page=3&per_page=1>; rel="next"' in link


def test_hsts_only_when_configured_and_the_public_url_is_https(database):
    settings = {"tracee.hsts_seconds": "31536000"}
    https = TestApp(make_app(database, **settings))  # make_app's public URL is https
    for path, status in (("/nowhere", 404), ("/api/v1/trackers/", 401)):
        assert https.get(path, status=status).headers["Strict-Transport-Security"] == ONE_YEAR
    plain = TestApp(make_app(database, **{**settings, "tracee.public_url": "http://x.test"}))
    assert "Strict-Transport-Security" not in plain.get("/nowhere", status=404).headers
    unset = TestApp(make_app(database))
    assert "Strict-Transport-Security" not in unset.get("/nowhere", status=404).headers


def test_production_ini_on_https_sends_hsts(database, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database.app_url)
    # A Redis URL, as production.ini's sessions want; this request never reaches Redis.
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("TRACEE_PUBLIC_URL", "https://tracee.test")
    # memory:// stands in for Redis, which production's session store reads as a
    # redis:// URL only: sessions go to the database here.
    app = tracee.main({}, **{**get_appsettings(str(PRODUCTION_INI)),
                             "tracee.session.store": "database"})
    try:
        response = TestApp(app).get("/nowhere", status=404)
        assert response.headers["Strict-Transport-Security"] == ONE_YEAR
    finally:
        app.registry["db.engine"].dispose()


def test_static_files_on_any_host_never_look_the_host_up(app, wsgi_app):
    statements = []

    def count(*args):
        statements.append(args[2])

    engine = wsgi_app.registry["db.engine"]
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for host in ("unknown.example", "track.brand.test", "tracee.test"):
            app.get("/static/tracee.css", headers={"Host": host}, status=200)
        assert statements == []
        # Pages still look their host up: a custom domain serves its own trackers.
        app.get("/nowhere", headers={"Host": "unknown.example"}, status=404)
        assert any("tenants" in statement for statement in statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
