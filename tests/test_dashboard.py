"""The dashboard's door: sessions, login, CSRF, and who may open which page."""

import re

import pytest
import sqlalchemy as sa
from conftest import make_app
from logins import PASSWORD, cheap_hashing, log_in, make_user  # noqa: F401
from test_ratelimit import redis_url as redis_url  # noqa: F401  (fixture)
from webtest import TestApp

from tracee.accounts.sessions import COOKIE

pytestmark = pytest.mark.usefixtures("cheap_hashing")

ROLES = ("owner", "admin", "staff", "viewer")


@pytest.fixture
def people(app, registry, tenant, other_tenant):
    """Every role in acme, and globex's owner; acme has tracker 1."""
    app.post_json("/api/v1/trackers/", {"name": "Order #1", "template": "3d-printing"},
                  headers=tenant.headers, status=201)
    for role in ROLES:
        make_user(registry, f"{role}@acme.test", tenant.id, role)
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    return tenant


def session_cookie(app) -> str | None:
    return app.cookies.get(COOKIE)


# --- the role table -------------------------------------------------------------

ALL, MANAGERS = 200, {"owner": 200, "admin": 200, "staff": 403, "viewer": 403}
EDITORS = {"owner": 200, "admin": 200, "staff": 200, "viewer": 403}
ROUTES = {
    "/dashboard/": 302,
    "/dashboard/acme/": 302,
    "/dashboard/acme/trackers/": ALL,
    "/dashboard/acme/trackers/new": EDITORS,
    "/dashboard/acme/trackers/labels": ALL,
    "/dashboard/acme/trackers/1/": ALL,
    "/dashboard/acme/trackers/1/qr.png": ALL,
    "/dashboard/acme/messages/": ALL,
    "/dashboard/acme/settings/": ALL,
    "/dashboard/acme/settings/api-keys/": MANAGERS,
    "/dashboard/acme/settings/team/": MANAGERS,
    "/dashboard/acme/settings/workflow-templates/": ALL,
    "/dashboard/acme/settings/workflow-templates/new": MANAGERS,
    "/dashboard/acme/settings/workflow-templates/3d-printing/": ALL,
    "/dashboard/acme/settings/workflow-templates/3d-printing/duplicate": MANAGERS,
    "/dashboard/acme/settings/branding/": ALL,
    "/dashboard/acme/analytics/": ALL,
    "/dashboard/acme/analytics/steps.csv": ALL,
    "/dashboard/acme/analytics/days.csv": ALL,
    "/dashboard/acme/settings/webhooks/": MANAGERS,
    "/dashboard/acme/settings/webhooks/new": MANAGERS,
    "/dashboard/acme/settings/page-templates/": ALL,
    "/dashboard/acme/settings/page-templates/embed/": ALL,
    "/dashboard/acme/settings/branding/preview": ALL,
    "/dashboard/acme/settings/domain/": MANAGERS,
    "/dashboard/acme/clients/": ALL,
    "/dashboard/acme/clients/new": MANAGERS,
}


@pytest.mark.parametrize("who", [*ROLES, "another tenant's owner", "anonymous"])
def test_role_table(app, people, who):
    if who == "another tenant's owner":
        log_in(app, "owner@globex.test")
    elif who != "anonymous":
        log_in(app, f"{who}@acme.test")
    for path, expected in ROUTES.items():
        if who == "anonymous":
            answer = app.get(path, status=302)
            assert answer.location.endswith("/login?next=" + path.replace("/", "%2F")), path
            continue
        if who == "another tenant's owner":
            expected = 302 if path == "/dashboard/" else 404
        elif isinstance(expected, dict):
            expected = expected[who]
        answer = app.get(path, expect_errors=True)
        assert answer.status_int == expected, (who, path, answer.status)
        # Only a tracker's QR image may be kept, privately, by the member's browser.
        kept = path.endswith("qr.png") and expected == 200
        assert answer.headers["Cache-Control"] == (
            "private, max-age=86400" if kept else "no-store"), path


def test_another_tenants_page_is_the_same_404_as_a_missing_one(app, people, make_tenant):
    log_in(app, "owner@globex.test")
    theirs = app.get("/dashboard/acme/trackers/", status=404)
    missing = app.get("/dashboard/no-such-tenant/trackers/", status=404)
    assert theirs.text == missing.text
    assert app.get("/dashboard/globex/trackers/", status=200)


def test_an_agency_role_reaches_every_client_below(app, registry, make_tenant):
    agency = make_tenant("agency")
    client = make_tenant("client", parent="agency")
    make_user(registry, "admin@agency.test", agency.id, "admin")
    make_user(registry, "owner@client.test", client.id, "owner")
    make_user(registry, "viewer@agency.test", agency.id, "viewer")
    log_in(app, "admin@agency.test")
    app.get("/dashboard/client/settings/api-keys/", status=200)
    app.get("/dashboard/agency/settings/api-keys/", status=200)
    app.reset()
    log_in(app, "viewer@agency.test")
    app.get("/dashboard/client/trackers/", status=200)
    app.get("/dashboard/client/settings/api-keys/", status=403)
    app.reset()
    log_in(app, "owner@client.test")  # a client's owner has no say over its agency
    app.get("/dashboard/client/settings/api-keys/", status=200)
    app.get("/dashboard/agency/trackers/", status=404)


# --- logging in -------------------------------------------------------------------


def test_login_lands_on_the_first_tenant_with_the_layout(app, people):
    answer = log_in(app, "Owner@Acme.test").follow().follow()
    assert answer.request.path == "/dashboard/acme/trackers/"
    nav = answer.html.find("nav", attrs={"aria-label": "Main"})
    labels = [a.get_text() for a in nav.find_all("a")]
    assert labels == ["Trackers", "Messages", "Analytics", "Clients", "Settings", "API Keys",
                      "Team", "Workflow templates", "Branding", "Page templates", "Webhooks",
                      "Domain"]
    assert answer.html.find("button", string="Log out")
    assert not answer.html.find("details", class_="switcher")  # one tenant: no switcher


def test_several_memberships_give_a_tenant_switcher(app, registry, people, other_tenant):
    make_user(registry, "viewer@acme.test", other_tenant.id, "staff")
    page = log_in(app, "viewer@acme.test").follow().follow()
    switcher = page.html.find("details", class_="switcher")
    assert [a["href"] for a in switcher.find_all("a")] == [
        "/dashboard/acme/trackers/", "/dashboard/globex/trackers/"]
    app.get("/dashboard/globex/trackers/", status=200)


def test_unknown_email_and_wrong_password_get_the_same_answer(app, people):
    def error_of(email, password):
        answer = log_in(app, email, password, status=400)
        assert session_cookie(app) is None
        return answer.html.find(class_="form-error").get_text(), answer.status_int

    assert error_of("nobody@acme.test", PASSWORD) == error_of("owner@acme.test", "wrong one!!")
    assert error_of("owner@acme.test", "wrong one!!")[0] == "Email or password is incorrect."


def test_empty_fields_are_named_next_to_them(app, people):
    answer = log_in(app, "", "", status=400)
    assert answer.html.find(id="f-email-error").get_text() == "Enter your email."
    assert answer.html.find(id="f-password-error").get_text() == "Enter your password."
    assert answer.html.find(id="f-email")["aria-describedby"] == "f-email-error"


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(app, people):
    answer = log_in(app, "owner@acme.test")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(COOKIE + "=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "secure" not in cookie.lower()
    app.reset()
    https = {"extra_environ": {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost:443"}}
    form = app.get("/login", **https).forms["login"]
    form["email"], form["password"] = "owner@acme.test", PASSWORD
    secure = form.submit(status=302, headers={"Origin": "https://localhost"}, **https)
    assert "; secure" in secure.headers["Set-Cookie"].lower()


def test_login_issues_a_fresh_session_id(app, people, database):
    log_in(app, "owner@acme.test")
    first = session_cookie(app)
    # logging in again (the form posted from a logged-in page) ends the first session
    token = app.get("/dashboard/acme/trackers/").forms[0]["csrf_token"].value
    app.post("/login", {"email": "viewer@acme.test", "password": PASSWORD,
                        "csrf_token": token}, status=302)
    second = session_cookie(app)
    assert first and second and first != second
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM user_sessions")) == 1
    app.reset()
    app.set_cookie(COOKIE, "planted-by-an-attacker")
    log_in(app, "owner@acme.test")
    assert session_cookie(app) != "planted-by-an-attacker"


def test_next_only_leads_into_the_dashboard(app, people):
    for evil in ("https://evil.test/", "//evil.test/dashboard", "/dashboard\\..\\x", "/api/v1"):
        form = app.get("/login", params={"next": evil}).forms["login"]
        form["email"], form["password"] = "owner@acme.test", PASSWORD
        assert form.submit(status=302).location.endswith("/dashboard/"), evil
        app.reset()
    form = app.get("/login", params={"next": "/dashboard/acme/settings/"}).forms["login"]
    form["email"], form["password"] = "owner@acme.test", PASSWORD
    assert form.submit(status=302).location.endswith("/dashboard/acme/settings/")


# --- logging out, expiry --------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(app, people):
    log_in(app, "owner@acme.test")
    token = session_cookie(app)
    page = app.get("/dashboard/acme/trackers/")
    page.forms[0].submit(status=302)  # the user menu's "Log out"
    assert session_cookie(app) is None
    app.set_cookie(COOKIE, token)  # a copy of the cookie no longer opens anything
    app.get("/dashboard/acme/trackers/", status=302)


def test_logout_is_a_post(app, people):
    log_in(app, "owner@acme.test")
    app.get("/logout", status=404)
    app.get("/dashboard/acme/trackers/", status=200)


@pytest.mark.parametrize("column, age_seconds", [("last_seen_at", 7201),
                                                 ("created_at", 43201)])
def test_idle_and_absolute_expiry(app, people, database, column, age_seconds):
    log_in(app, "owner@acme.test")
    app.get("/dashboard/acme/trackers/", status=200)
    with database.admin_engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT key_hash, created_at, last_seen_at "
                                    "FROM user_sessions")).all()
        for key_hash, created, seen in rows:
            when = {"created_at": created, "last_seen_at": seen}
            from datetime import timedelta

            from tracee.db import utcnow
            when[column] = utcnow() - timedelta(seconds=age_seconds)
            if column == "created_at":
                when["last_seen_at"] = utcnow()
            conn.execute(sa.text("UPDATE user_sessions SET created_at = :c, last_seen_at = :s "
                                 "WHERE key_hash = :k"),
                         {"c": when["created_at"], "s": when["last_seen_at"], "k": key_hash})
    app.get("/dashboard/acme/trackers/", status=302)
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM user_sessions")) == 0


# --- CSRF ---------------------------------------------------------------------------


def test_login_without_its_csrf_token_is_refused(app, people, database):
    app.get("/login")
    app.post("/login", {"email": "owner@acme.test", "password": PASSWORD}, status=400)
    app.post("/login", {"email": "owner@acme.test", "password": PASSWORD,
                        "csrf_token": "guessed-token-of-enough-length"}, status=400)
    assert session_cookie(app) is None
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM user_sessions")) == 0


def test_logout_without_its_csrf_token_is_refused(app, people):
    log_in(app, "owner@acme.test")
    app.post("/logout", status=400)
    # the anonymous form token is not the session's
    app.post("/logout", {"csrf_token": app.cookies.get("tracee_csrf", "x")}, status=400)
    app.get("/dashboard/acme/trackers/", status=200)


# --- throttling ---------------------------------------------------------------------


@pytest.fixture
def strict_app(database):
    """An app allowing 3 failed logins per 5 minutes, so the limit is reached quickly."""
    wsgi = make_app(database, **{"tracee.ratelimit.login": "3/5 minutes"})
    yield TestApp(wsgi)
    wsgi.registry["db.engine"].dispose()


def test_failed_logins_are_throttled_per_account(strict_app, people):
    app = strict_app
    for attempt in range(3):
        log_in(app, "owner@acme.test", "wrong password", status=400,
               extra_environ={"REMOTE_ADDR": f"10.0.0.{attempt}"})
    answer = log_in(app, "owner@acme.test", PASSWORD, status=429,
                    extra_environ={"REMOTE_ADDR": "10.0.1.1"})
    assert "Too many attempts, try again in 5 minutes" in answer.text
    assert 1 <= int(answer.headers["Retry-After"]) <= 300
    assert session_cookie(app) is None
    log_in(app, "viewer@acme.test", extra_environ={"REMOTE_ADDR": "10.0.1.1"})


def test_failed_logins_are_throttled_per_address(strict_app, people):
    app = strict_app
    for attempt in range(3):
        log_in(app, f"nobody{attempt}@acme.test", "wrong password", status=400)
    log_in(app, "owner@acme.test", PASSWORD, status=429)
    log_in(app, "owner@acme.test", extra_environ={"REMOTE_ADDR": "10.9.9.9"})


# --- the API and public pages never load a session ------------------------------------


def test_api_and_public_pages_never_touch_sessions(app, people, registry, create):
    log_in(app, "owner@acme.test")  # the browser now sends the session cookie everywhere
    assert session_cookie(app)
    statements = []
    engine = registry["db.engine"]

    def note(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        tracker = create()
        app.get(f"/api/v1/trackers/{tracker['id']}/", headers=people.headers, status=200)
        app.get(tracker["tracking_url"].replace("https://tracee.test", ""), status=200)
        app.get(tracker["embed_code"].split('src="')[1].split('"')[0]
                .replace("https://tracee.test", ""), status=200)
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    touched = [s for s in statements if re.search(r"\b(user_sessions|users|memberships)\b", s)]
    assert statements and touched == []


# --- pages ----------------------------------------------------------------------------


def test_pages_escape_what_people_typed(app, registry, make_tenant):
    evil = make_tenant("evil", name="<script>alert(1)</script>")
    make_user(registry, "owner@evil.test", evil.id, "owner")
    log_in(app, "owner@evil.test")
    page = app.get("/dashboard/evil/trackers/")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and page.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in page.text  # no inline script at all


def test_a_user_without_tenants_is_told_so(app, registry):
    make_user(registry, "lonely@example.test")
    page = log_in(app, "lonely@example.test").follow()
    assert "not part of any business" in page.text


# --- sessions in Redis (production) -------------------------------------------------------


def test_sessions_can_live_in_redis(database, people, redis_url):
    url, client = redis_url
    wsgi = make_app(database, **{"tracee.session.store": "redis",
                                 "tracee.ratelimit.storage": url})
    try:
        app = TestApp(wsgi)
        log_in(app, "owner@acme.test")
        token = session_cookie(app)
        app.get("/dashboard/acme/settings/api-keys/", status=200)
        with database.admin_engine.connect() as conn:  # nothing went to the database
            assert conn.scalar(sa.text("SELECT count(*) FROM user_sessions")) == 0
        keys = client.keys("tracee:session:*")
        assert len(keys) == 1 and token.encode() not in keys[0]
        assert 0 < client.ttl(keys[0]) <= 7200  # idle expiry is Redis's own
        store = wsgi.registry["sessions"]
        user_id = store.load(None, token).user_id
        store.end_others(None, user_id)  # what a password change does
        app.get("/dashboard/acme/trackers/", status=302)
        assert client.keys("tracee:session:*") == []
    finally:
        client.flushdb()
        wsgi.registry["db.engine"].dispose()
