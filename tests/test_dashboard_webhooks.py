"""Settings -> Webhooks: endpoints under the API's rules, secrets shown once, the
delivery log and its "Retry now"; owners and admins only."""

import pytest
import sqlalchemy as sa
from conftest import make_app
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401
from standardwebhooks import Webhook
from test_webhooks_api import public_dns  # noqa: F401  (autouse fixture)
from test_webhooks_delivery import FAST, until, worker  # noqa: F401  (worker: a fixture)
from webhook_receiver import receiver
from webtest import TestApp

from tracee.webhooks.models import TRACKER_EVENTS

pytestmark = pytest.mark.usefixtures("cheap_hashing")
HOOKS = "/dashboard/acme/settings/webhooks/"
URL = "https://hooks.example.com/tracee"
ONE_RETRY = {"tracee.webhooks.retry_delays": "0.05"}


def endpoints(database) -> list:
    with database.admin_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id, url, events, description, enabled, secret, previous_secret "
            "FROM webhook_endpoints ORDER BY tenant_id, id")).all()


def add(app, url=URL, events=TRACKER_EVENTS, description="ERP", status=200):
    form = app.get(HOOKS).click("Add endpoint").forms["webhook-form"]
    form["url"], form["description"] = url, description
    for box in form.fields["events"]:
        box.checked = box._value in events
    return form.submit(status=status)


def csrf(app, path=None) -> str:
    return app.get(path or "/dashboard/acme/trackers/").forms[0]["csrf_token"].value


def test_add_shows_the_secret_once_and_lists_the_endpoint(app, owner, database):
    page = add(app, events=("tracker.created", "tracker.completed"))
    secret = page.html.find(id="new-secret").get_text()
    assert secret.startswith("whsec_")
    assert "it won't be shown again!" in page.text
    assert page.html.find("button", string="Copy secret")
    assert page.headers["Cache-Control"] == "no-store"
    listed = app.get("/api/v1/webhooks/", headers=owner.headers).json
    assert [(e["url"], e["events"], e["description"]) for e in listed] == [
        (URL, ["tracker.created", "tracker.completed"], "ERP")]
    again = app.get(HOOKS)
    assert secret not in again.text and secret[6:] not in again.text
    row = again.html.find("tbody").find("tr").get_text()
    assert URL in row and "tracker.created, tracker.completed" in row
    assert "Enabled" in row and "None yet" in row
    assert secret not in app.get(HOOKS + "1/").text


def test_the_settings_page_and_the_menu_link_here(app, owner):
    assert app.get("/dashboard/acme/settings/").click("Webhooks", index=0).request.path == HOOKS


@pytest.mark.parametrize(("url", "events", "description", "field", "message"), [
    ("not a url", TRACKER_EVENTS, "", "url", "The URL must be an http(s) URL"),
    ("ftp://hooks.example.com/", TRACKER_EVENTS, "", "url", "The URL must be an http(s) URL"),
    ("http://hooks.example.com/", TRACKER_EVENTS, "", "url", "The URL must be an https URL"),
    ("https://127.0.0.1/hook", TRACKER_EVENTS, "", "url", "loopback"),
    ("https://169.254.169.254/latest", TRACKER_EVENTS, "", "url", "link-local"),
    ("https://10.1.2.3/", TRACKER_EVENTS, "", "url", "private"),
    ("https://no-such-host.invalid/", TRACKER_EVENTS, "", "url", "The URL"),
    ("", TRACKER_EVENTS, "", "url", "The URL must not be empty"),
    ("https://hooks.example.com/" + "x" * 2000, TRACKER_EVENTS, "", "url", "at most 2000"),
    (URL, (), "", "events", "Events must list at least one event"),
    (URL, TRACKER_EVENTS, "x" * 501, "description", "at most 500 characters"),
    (URL, TRACKER_EVENTS, "bell\x07", "description", "The description"),
])
def test_bad_input_is_named_beside_its_field(app, owner, database, url, events, description,
                                             field, message):
    page = add(app, url, events, description, status=400)
    error = page.html.find(id=f"f-{field}-error")
    assert error is not None and message in error.get_text()
    if field != "events":
        assert page.html.find(id=f"f-{field}")["aria-invalid"] == "true"
    else:
        assert page.html.find("fieldset")["aria-describedby"] == "f-events-error"
    assert page.forms["webhook-form"]["description"].value == description[:501]
    assert endpoints(database) == []


def test_an_unknown_event_is_refused(app, owner, database):
    page = app.post(HOOKS + "new", {"url": URL, "events": "tracker.deleted",
                                    "csrf_token": csrf(app)}, status=400)
    assert "Events must be one of" in page.html.find(id="f-events-error").get_text()
    assert endpoints(database) == []


def test_the_endpoint_cap_is_said_on_the_form(app, owner, database, monkeypatch):
    from tracee.webhooks import endpoints as service

    monkeypatch.setattr(service, "MAX_ENDPOINTS", 1)
    add(app)
    page = add(app, status=409)
    assert "at most 1 webhook endpoints" in page.html.find(role="alert").get_text()
    assert len(endpoints(database)) == 1


def test_edit_changes_events_description_and_enabled(app, owner, database):
    add(app)
    form = app.get(HOOKS).click("Edit", index=0).forms["webhook-form"]
    assert form["url"].value == URL and form["enabled"].checked
    form["description"] = "Warehouse"
    form["enabled"] = False
    for box in form.fields["events"]:
        box.checked = box._value == "tracker.completed"
    saved = form.submit(status=302).follow()
    assert "Changes saved." in saved.text
    shown = app.get("/api/v1/webhooks/1/", headers=owner.headers).json
    assert shown["events"] == ["tracker.completed"] and shown["description"] == "Warehouse"
    assert shown["enabled"] is False and shown["disabled_reason"]
    row = app.get(HOOKS).html.find("tbody").find("tr").get_text()
    assert "Disabled" in row
    form = saved.forms["webhook-form"]
    form["enabled"] = True
    form.submit(status=302)
    assert app.get("/api/v1/webhooks/1/", headers=owner.headers).json["enabled"] is True


def test_a_bad_edit_changes_nothing(app, owner, database):
    add(app)
    before = endpoints(database)
    form = app.get(HOOKS + "1/").forms["webhook-form"]
    form["url"] = "https://192.168.1.10/hook"
    form["description"] = "changed"
    page = form.submit(status=400)
    assert "private" in page.html.find(id="f-url-error").get_text()
    assert page.forms["webhook-form"]["url"].value == "https://192.168.1.10/hook"
    assert endpoints(database) == before


def test_rotation_shows_the_new_secret_once_and_keeps_the_old(app, owner, database):
    first = add(app).html.find(id="new-secret").get_text()
    sealed = endpoints(database)[0].secret
    page = app.get(HOOKS + "1/").forms["rotate-form"].submit()
    secret = page.html.find(id="new-secret").get_text()
    assert secret.startswith("whsec_") and secret != first
    assert "keeps signing beside it for 24 hours" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert endpoints(database)[0].previous_secret == sealed
    assert secret not in app.get(HOOKS + "1/").text


def test_delete_asks_first(app, owner, database):
    add(app)
    confirm = app.get(HOOKS + "1/").click("Delete this endpoint")
    assert "cannot be undone" in confirm.text and URL in confirm.text
    assert len(endpoints(database)) == 1  # asking deletes nothing
    listing = confirm.forms["delete-form"].submit(status=302).follow()
    assert "Endpoint deleted." in listing.text and "No endpoints yet." in listing.text
    assert endpoints(database) == []
    app.get(HOOKS + "1/", status=404)


def test_no_form_acts_without_its_csrf_token(app, owner, database):
    add(app)
    before = endpoints(database)
    for path, data in ((HOOKS + "new", {"url": URL + "/2", "events": "tracker.created"}),
                       (HOOKS + "1/", {"url": URL, "events": "tracker.created"}),
                       (HOOKS + "1/rotate", {}), (HOOKS + "1/test", {}),
                       (HOOKS + "1/delete", {}), (HOOKS + "1/retry", {"delivery": "1"})):
        app.post(path, data, status=400)
        app.post(path, {**data, "csrf_token": "x" * 43}, status=400)
    assert endpoints(database) == before
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM webhook_deliveries")) == 0


# --- the delivery log, with a real worker and receiver -----------------------------------


@pytest.fixture
def local(database, registry, tenant):
    """A dashboard that may point at 127.0.0.1 over http, acme's owner logged in."""
    wsgi = make_app(database, **{**FAST, **ONE_RETRY})
    client = TestApp(wsgi)
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    log_in(client, "owner@acme.test")
    yield client
    wsgi.registry["db.engine"].dispose()


def finished(database) -> bool:
    with database.admin_engine.connect() as conn:
        states = conn.execute(sa.text("SELECT state FROM webhook_deliveries")).scalars().all()
    return bool(states) and all(s in ("delivered", "failed") for s in states)


def test_test_event_log_and_retry_now(local, worker, database):
    answers = iter([(500, {}, b"<script>alert(1)</script> down"),
                    (500, {}, b"still down"), (204, {}, b"")])

    def answer(_n, _request):
        return next(answers)

    with receiver(answer) as (url, rec):
        secret = add(local, url + "hook").html.find(id="new-secret").get_text()
        queued = local.get(HOOKS + "1/").forms["test-form"].submit(status=302).follow()
        assert "Test event queued" in queued.text
        with worker(**ONE_RETRY):
            until(lambda: finished(database))  # two attempts (one retry), then failed
            log = local.get(HOOKS + "1/deliveries")
            rows = log.html.find("tbody").find_all("tr")
            assert [r.find_all("td")[1].get_text() for r in rows] == ["2", "1"]
            assert "500" in rows[0].get_text() and "webhook.test" in rows[0].get_text()
            assert "<script>" not in log.text and "&lt;script&gt;alert(1)" in log.text
            assert len(log.html.find_all("button", string="Retry now")) == 1  # one per delivery
            retried = log.forms[1].submit(status=302).follow()
            assert "Delivery queued" in retried.text
            until(lambda: finished(database) and len(rec.received) == 3)
        log = local.get(HOOKS + "1/deliveries")
    rows = log.html.find("tbody").find_all("tr")
    assert [r.find_all("td")[1].get_text() for r in rows] == ["3", "2", "1"]
    assert rows[0].find_all("td")[3].get_text() == "204"
    assert len({r.headers["webhook-id"] for r in rec.received}) == 1
    body = Webhook(secret).verify(rec.received[-1].body, rec.received[-1].headers)
    assert body["type"] == "webhook.test"
    listing = local.get(HOOKS).html.find("tbody").find("tr").get_text()
    assert "Delivered" in listing and "(204)" in listing


def test_retry_of_an_unknown_delivery_is_not_found(app, owner):
    add(app)
    token = csrf(app, HOOKS + "1/")
    for delivery in ("999", "x", ""):
        app.post(HOOKS + "1/retry", {"delivery": delivery, "csrf_token": token}, status=404)


def test_the_log_is_paginated_newest_first(app, owner, database):
    add(app)
    with database.admin_engine.begin() as conn:
        for n in range(1, 31):
            conn.execute(sa.text(
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, state, "
                "attempts, created_at, manual) VALUES (:n, :t, 1, 'webhook.test', 'failed', 1, "
                ":at, false)"), {"n": n, "t": owner.id, "at": f"2026-01-01 00:{n:02}:00+00:00"})
            conn.execute(sa.text(
                "INSERT INTO webhook_attempts (tenant_id, delivery_id, number, endpoint_id, "
                "event_id, event_type, attempted_at, status, duration_ms) VALUES "
                "(:t, :n, 1, 1, :id, 'webhook.test', :at, 500, 12)"),
                {"n": n, "t": owner.id, "id": f"evt_{n}", "at": f"2026-01-01 00:{n:02}:00+00:00"})
    first = app.get(HOOKS + "1/deliveries")
    ids = [r.find("code").get_text() for r in first.html.find("tbody").find_all("tr")]
    assert ids == [f"evt_{n}" for n in range(30, 5, -1)]
    second = first.click("Next")
    ids = [r.find("code").get_text() for r in second.html.find("tbody").find_all("tr")]
    assert ids == [f"evt_{n}" for n in range(5, 0, -1)]
    assert "Previous" in second.text and "Next" not in second.html.find(class_="pager").text
    app.get(HOOKS + "1/deliveries?page=x", status=200)


# --- who may ------------------------------------------------------------------------------

EXPECTED = {"owner": 200, "admin": 200, "staff": 403, "viewer": 403,
            "another tenant's owner": 404}


@pytest.mark.parametrize("who", ["owner", "admin", "staff", "viewer", "another tenant's owner",
                                 "anonymous"])
def test_role_table(app, registry, tenant, other_tenant, database, who):
    for role in ("owner", "admin", "staff", "viewer"):
        make_user(registry, f"{role}@acme.test", tenant.id, role)
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    app.post_json("/api/v1/webhooks/", {"url": URL}, headers=tenant.headers, status=201)
    if who != "anonymous":
        log_in(app, "owner@globex.test" if who.startswith("another") else f"{who}@acme.test")
        token = csrf(app, "/dashboard/" + ("globex" if who.startswith("another") else "acme")
                     + "/trackers/")
    else:
        token = "x"
    requests = [
        ("GET", HOOKS, {}, 200), ("GET", HOOKS + "new", {}, 200), ("GET", HOOKS + "1/", {}, 200),
        ("GET", HOOKS + "1/deliveries", {}, 200), ("GET", HOOKS + "1/delete", {}, 200),
        ("POST", HOOKS + "new", {"url": URL + "/2", "events": "tracker.created"}, 200),
        ("POST", HOOKS + "1/", {"url": URL, "events": "tracker.created"}, 302),
        ("POST", HOOKS + "1/rotate", {}, 200), ("POST", HOOKS + "1/test", {}, 302),
        ("POST", HOOKS + "1/retry", {"delivery": "1"}, 302),
        ("POST", HOOKS + "1/delete", {}, 302),
    ]
    before = endpoints(database)
    for method, path, data, allowed in requests:
        if method == "GET":
            answer = app.get(path, expect_errors=True)
        else:
            answer = app.post(path, {**data, "csrf_token": token}, expect_errors=True)
        if who == "anonymous":
            assert answer.status_int == 302 and "/login?next=" in answer.location, path
            continue
        expected = allowed if who in ("owner", "admin") else EXPECTED[who]
        assert answer.status_int == expected, (who, method, path, answer.status)
        assert answer.headers["Cache-Control"] == "no-store"
    if who not in ("owner", "admin"):
        assert endpoints(database) == before


def test_another_tenants_endpoint_is_not_found(app, registry, tenant, other_tenant, database):
    app.post_json("/api/v1/webhooks/", {"url": URL}, headers=tenant.headers, status=201)
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    log_in(app, "owner@globex.test")
    theirs = "/dashboard/globex/settings/webhooks/1/"
    token = csrf(app, "/dashboard/globex/settings/webhooks/")
    for view in ("", "deliveries", "delete"):
        app.get(theirs + view, status=404)
    for view in ("", "rotate", "test", "delete", "retry"):
        app.post(theirs + view, {"csrf_token": token, "url": URL, "events": "tracker.created",
                                 "delivery": "1"}, status=404)
    for odd in (2**40, "%C2%B2", "-1", "1.0"):
        app.get(f"/dashboard/globex/settings/webhooks/{odd}/", status=404)
    assert [e.url for e in endpoints(database)] == [URL]
    assert "No endpoints yet." in app.get("/dashboard/globex/settings/webhooks/").text


def test_what_an_endpoint_holds_is_shown_escaped(app, owner):
    hostile = 'https://hooks.example.com/"><script>alert(1)</script>'
    add(app, hostile, description="<b>bold</b>")
    for page in (app.get(HOOKS), app.get(HOOKS + "1/"), app.get(HOOKS + "1/delete")):
        assert "<script>alert(1)" not in page.text and "<b>bold" not in page.text
    assert "&lt;script&gt;alert(1)" in app.get(HOOKS).text
