"""Email updates for customers: subscribe on the page, confirm, get news from the
worker through a real SMTP server (aiosmtpd), unsubscribe; the API's notify_email."""

import gettext
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from conftest import make_app, make_settings
from logins import cheap_hashing, log_in, make_user  # noqa: F401
from test_signup import free_port
from test_signup import smtp as smtp  # noqa: F401  (fixture: a real SMTP server)
from webtest import TestApp

from tracee.customer_mail import render
from tracee.form_tokens import FormTokens
from tracee.tracking.models import Tracker
from tracee.worker import Worker

QUIET = {
    "tracee.customer_mail.quiet_seconds": "0",
    "tracee.customer_mail.retry_delays": "0 0",
    "tracee.mail.from": "Tracee <no-reply@tracee.test>",
    "tracee.ratelimit.api": "100000/minute",  # the module's limiter outlives a test
}
BLUE = "#1d4ed8"


@pytest.fixture
def inbox(smtp):
    smtp[0].messages.clear()
    return smtp[0]


def mail_settings(smtp, **overrides) -> dict:
    return {**QUIET, "tracee.mail.smtp_url": f"smtp://127.0.0.1:{smtp[1]}", **overrides}


@pytest.fixture(scope="module")
def mail_wsgi(database, smtp):
    wsgi = make_app(database, **mail_settings(smtp))
    yield wsgi
    wsgi.registry["db.engine"].dispose()


@pytest.fixture
def web(mail_wsgi, inbox):
    yield TestApp(mail_wsgi)
    mail_wsgi.registry["ratelimiter"].reset()


@pytest.fixture
def worker(database, smtp):
    """worker(**settings) -> a Worker; send_due_customer_mail() runs it once, in this thread."""
    made = []

    def make(**overrides):
        made.append(Worker(make_settings(database, **mail_settings(smtp, **overrides))))
        return made[-1]

    yield make
    for each in made:
        each.engine.dispose()


def count(database, table: str, where: str = "") -> int:
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table} {where}"))


def rows(database, sql: str) -> list:
    with database.admin_engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def create(web, tenant, status=201, **extra):
    body = {"name": "Order #1234 - Blue Vase", "template": "3d-printing", **extra}
    return web.post_json("/api/v1/trackers/", body, headers=tenant.headers, status=status).json


def change(web, tenant, tracker, process, action="start"):
    web.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": process, "action": action}, headers=tenant.headers)


def path(url: str) -> str:
    return urlsplit(url).path


def subscribe(web, tracker, email="ann@example.test", status=303, **params):
    page = web.get(path(tracker["tracking_url"]), params)
    form = page.forms["subscribe-form"]
    form["email"] = email
    return form.submit(status=status)


def link(message, kind: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return path(re.search(rf"https://tracee\.test(/track/\S+/{kind}/\S+)", text).group(1))


def subscribed(web, worker, inbox, tracker, email="ann@example.test"):
    """Subscribe ``email`` on the page and confirm from the mail."""
    subscribe(web, tracker, email)
    worker().send_due_customer_mail()
    confirm = link(inbox.messages[-1], "confirm")
    web.get(confirm).forms[0].submit(status=200)
    inbox.messages.clear()


@pytest.fixture
def themed(web, tenant):
    web.put_json("/api/v1/branding/", {"brand_color": BLUE, "footer_text": "Acme Prints, Leeds"},
                 headers=tenant.headers)
    return tenant


def test_subscribe_confirm_then_one_branded_mail_per_change(web, worker, inbox, themed,
                                                            database):
    tracker = create(web, themed)
    sent = subscribe(web, tracker).follow()
    assert "Check your inbox" in sent.text
    assert inbox.messages == []  # nothing is sent from a request
    assert worker().send_due_customer_mail() == 1
    (confirmation,) = inbox.messages
    assert confirmation["To"] == "ann@example.test"
    assert confirmation["From"] == "Acme Prints <no-reply@tracee.test>"
    assert "Tracee" not in confirmation.as_string()
    confirm = link(confirmation, "confirm")
    # Opening the link (a mail scanner would too) asks; only the button confirms.
    asking = web.get(confirm)
    assert "Confirm email updates" in asking.text
    assert rows(database, "SELECT confirmed_at FROM mail_subscriptions") == [(None,)]
    done = asking.forms[0].submit(status=200)
    assert "You will get email updates" in done.text
    inbox.messages.clear()
    assert worker().send_due_customer_mail() == 0  # confirming is no news

    change(web, themed, tracker, "Preparing/Slicing")
    assert worker().send_due_customer_mail() == 1
    (news,) = inbox.messages
    assert news["Subject"] == "News about your order Order #1234 - Blue Vase"
    assert news["From"] == "Acme Prints <no-reply@tracee.test>"
    unsubscribe = link(news, "unsubscribe")
    assert news["List-Unsubscribe"] == f"<https://tracee.test{unsubscribe}>"
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = news.get_body(("plain",)).get_content()
    assert "Now: Preparing/Slicing" in text and "Preparing/Slicing: In progress" in text
    assert "Quality Check" not in text  # hidden
    assert tracker["tracking_url"] in text and "Acme Prints, Leeds" in text
    html = news.get_body(("html",)).get_content()
    assert BLUE in html and f'href="https://tracee.test{unsubscribe}"' in html
    assert "Tracee" not in news.as_string()
    assert worker().send_due_customer_mail() == 0  # nothing new: nothing sent


def test_a_burst_of_changes_is_one_mail_of_the_state_it_left(web, worker, inbox, tenant,
                                                             database):
    tracker = create(web, tenant)
    subscribed(web, worker, inbox, tracker)
    patient = worker(**{"tracee.customer_mail.quiet_seconds": "3600"})
    change(web, tenant, tracker, "Preparing/Slicing")
    assert patient.send_due_customer_mail() == 0  # still within the quiet period
    change(web, tenant, tracker, "3D Printing")
    change(web, tenant, tracker, "Post-Processing")
    assert count(database, "customer_mail_jobs", "WHERE state = 'pending'") == 1
    assert worker().send_due_customer_mail() == 1
    (news,) = inbox.messages
    text = news.get_body(("plain",)).get_content()
    assert "Now: Post-Processing" in text and "3D Printing: Done" in text


def test_hidden_steps_never_send_mail_and_completion_does(web, worker, inbox, tenant):
    tracker = create(web, tenant)
    subscribed(web, worker, inbox, tracker)
    change(web, tenant, tracker, "Post-Processing", "complete")
    worker().send_due_customer_mail()
    assert len(inbox.messages) == 1
    inbox.messages.clear()
    change(web, tenant, tracker, "Quality Check", "start")
    change(web, tenant, tracker, "Quality Check", "complete")
    worker().send_due_customer_mail()
    assert inbox.messages == []
    change(web, tenant, tracker, "Ready for Shipping", "complete")
    worker().send_due_customer_mail()
    (done,) = inbox.messages
    assert done["Subject"] == "Your order Order #1234 - Blue Vase is complete"


@pytest.mark.parametrize("how", ["button", "one-click"])
def test_unsubscribing_stops_mail(web, worker, inbox, tenant, database, how):
    tracker = create(web, tenant)
    subscribed(web, worker, inbox, tracker)
    change(web, tenant, tracker, "Preparing/Slicing")
    worker().send_due_customer_mail()
    unsubscribe = link(inbox.messages[-1], "unsubscribe")
    if how == "button":
        page = web.get(unsubscribe)
        assert "ann@example.test" in page.text
        assert "You are unsubscribed" in page.forms[0].submit(status=200).text
    else:  # RFC 8058: what a mail reader posts, with no cookie, form token or page first
        web.post(unsubscribe, {"List-Unsubscribe": "One-Click"}, status=200)
    assert count(database, "mail_subscriptions") == 0
    web.post(unsubscribe, {"List-Unsubscribe": "One-Click"}, status=200)  # again: harmless
    web.get(unsubscribe, status=404)
    inbox.messages.clear()
    change(web, tenant, tracker, "3D Printing")
    worker().send_due_customer_mail()
    assert inbox.messages == []


def test_links_with_unknown_or_foreign_tokens_do_nothing(web, worker, inbox, tenant,
                                                         other_tenant, database):
    tracker = create(web, tenant)
    other = create(web, other_tenant)
    subscribe(web, tracker)
    worker().send_due_customer_mail()
    confirm = link(inbox.messages[-1], "confirm")
    token = confirm.rsplit("/", 1)[1]
    web.get(f"{path(tracker['tracking_url'])}/confirm/{'x' * 43}", status=404)
    web.post(f"{path(other['tracking_url'])}/confirm/{token}", status=404)  # another tracker
    web.get(f"{path(tracker['tracking_url'])}/confirm/{'y' * 500}", status=404)
    assert rows(database, "SELECT confirmed_at FROM mail_subscriptions") == [(None,)]


def test_the_daily_cap_defers_mail_to_the_next_day_with_a_record(web, worker, inbox, tenant,
                                                                 database):
    tracker = create(web, tenant)
    subscribed(web, worker, inbox, tracker, "ann@example.test")
    subscribed(web, worker, inbox, tracker, "bob@example.test")
    capped = worker(**{"tracee.customer_mail.daily_cap": "3"})  # two confirmations sent today
    change(web, tenant, tracker, "Preparing/Slicing")
    assert capped.send_due_customer_mail() == 1
    assert inbox.messages == []
    ((state, note, waits),) = rows(database, "SELECT state, note, next_attempt_at > created_at "
                                             "FROM customer_mail_jobs WHERE kind = 'update'")
    assert state == "pending" and waits
    assert "daily cap of 3 mails reached" in note and "deferred to" in note
    assert rows(database, "SELECT sent, deferred FROM customer_mail_days") == [(2, 1)]
    assert capped.send_due_customer_mail() == 0  # not before tomorrow


def test_smtp_failures_are_retried_then_given_up(web, worker, inbox, tenant, database):
    tracker = create(web, tenant)
    subscribe(web, tracker)
    closed = f"smtp://127.0.0.1:{free_port()}"
    down = worker(**{"tracee.mail.smtp_url": closed,
                     "tracee.customer_mail.retry_delays": "3600"})
    down.send_due_customer_mail()
    ((attempts, state, note, later),) = rows(
        database, "SELECT attempts, state, note, next_attempt_at > created_at "
                  "FROM customer_mail_jobs")
    assert (attempts, state, later) == (1, "pending", True) and "failed" in note
    assert rows(database, "SELECT sent FROM customer_mail_days") == [(0,)]  # given back
    with database.admin_engine.begin() as conn:  # an hour later
        conn.execute(sa.text("UPDATE customer_mail_jobs SET next_attempt_at = created_at"))
    worker().send_due_customer_mail()
    assert len(inbox.messages) == 1
    assert rows(database, "SELECT attempts, state FROM customer_mail_jobs") == [(2, "sent")]
    subscribe(web, tracker, "bob@example.test")
    worker(**{"tracee.mail.smtp_url": closed,
              "tracee.customer_mail.retry_delays": "0"}).send_due_customer_mail()
    assert rows(database, "SELECT attempts, state FROM customer_mail_jobs "
                          "WHERE state != 'sent'") == [(2, "failed")]


def test_a_killed_workers_claim_expires_and_another_sends(web, worker, inbox, tenant, database):
    tracker = create(web, tenant)
    subscribe(web, tracker)
    killed = worker()
    assert len(killed.claim_customer_mail(10)) == 1  # ...and never sent: the worker died
    assert worker().send_due_customer_mail() == 0  # leased
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE customer_mail_jobs SET claimed_until = created_at"))
    assert worker().send_due_customer_mail() == 1
    assert len(inbox.messages) == 1


def test_the_form_needs_a_valid_token_and_stores_nothing_on_error(web, tenant, database,
                                                                  mail_wsgi):
    tracker = create(web, tenant)
    url = path(tracker["tracking_url"])
    tokens = mail_wsgi.registry["customer_mail.form_tokens"]
    token = tracker["tracking_token"]
    other_tracker = create(web, tenant, name="Order #2")
    forged = {
        "missing": None,
        "garbage": "123.abc",
        "wrong key": FormTokens(b"not the secret", "subscribe", 3600).issue(token),
        "another form's": FormTokens(tokens.secret, "ask", 3600).issue(token),
        "other tracker": tokens.issue(other_tracker["tracking_token"]),
        "expired": tokens.issue(token, now=1_000_000),
        "future": tokens.issue(token, now=4_000_000_000),
    }
    for case, value in forged.items():
        body = {"email": "ann@example.test", **({"form_token": value} if value else {})}
        answer = web.post(f"{url}/subscribe", body, status=400)
        assert "This form has expired" in answer.text, case
    page = web.post(f"{url}/subscribe", {"email": "ann@example.test", "form_token": "1.x"},
                    status=400)
    error = page.html.find(id="subscribe-error")
    assert page.html.find(id="subscribe-email")["aria-describedby"] == "subscribe-error"
    assert error is not None
    assert count(database, "mail_subscriptions") == count(database, "customer_mail_jobs") == 0


@pytest.mark.parametrize("address, message", [
    ("not an address", "Enter an email address like name@example.com."),
    ("ann@example.test\r\nBcc: everyone@example.test", "cannot contain line breaks"),
    ("ann@example.test\nBcc: everyone@example.test", "cannot contain line breaks"),
    ("a" * 250 + "@example.test", "at most 254 characters"),
    ("a" * 100_000, "at most 254 characters"),
    ("", "Enter your email address."),
])
def test_bad_addresses_are_refused_beside_the_field(web, tenant, database, address, message):
    tracker = create(web, tenant)
    page = subscribe(web, tracker, address, status=400)
    assert message in page.html.find(id="subscribe-error").get_text()
    field = page.html.find(id="subscribe-email")
    assert field["aria-invalid"] == "true"
    assert "Bcc" not in page.headers.get("Location", "")
    assert count(database, "mail_subscriptions") == count(database, "customer_mail_jobs") == 0


def test_a_filled_honeypot_looks_like_success_and_keeps_nothing(web, tenant, database):
    tracker = create(web, tenant)
    form = web.get(path(tracker["tracking_url"])).forms["subscribe-form"]
    form["email"], form["website"] = "bot@example.test", "http://spam.example"
    assert form.submit(status=303).location.endswith("/subscribed")
    assert count(database, "mail_subscriptions") == count(database, "customer_mail_jobs") == 0


def test_subscribing_is_rate_limited_per_address_and_per_tracker(database, smtp, tenant):
    web = TestApp(make_app(database, **mail_settings(smtp, **{
        "tracee.customer_mail.rate_per_address": "2/hour",
        "tracee.customer_mail.rate_per_tracker": "3/hour"})))
    try:
        tracker = create(web, tenant)
        subscribe(web, tracker, "ann@example.test")
        subscribe(web, tracker, "ann@example.test")
        page = subscribe(web, tracker, "ann@example.test", status=429)
        assert "Too many requests" in page.html.find(id="subscribe-error").get_text()
        subscribe(web, tracker, "bob@example.test")
        subscribe(web, tracker, "cy@example.test", status=429)  # the tracker's budget
        assert count(database, "mail_subscriptions") == 2
    finally:
        web.app.registry["db.engine"].dispose()


def test_the_page_asks_nothing_more_of_the_database(web, tenant, mail_wsgi):
    """The form is computed (its token is an HMAC); no subscription is read."""
    tracker = create(web, tenant)
    statements = []
    engine = mail_wsgi.registry["db.engine"]

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        page = web.get(path(tracker["tracking_url"]))
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert page.forms["subscribe-form"]["form_token"].value
    assert not [s for s in statements if "mail" in s]


def test_subscriptions_keep_the_pages_language_for_their_mail(web, worker, inbox, tenant,
                                                              database, monkeypatch):
    class German(gettext.NullTranslations):
        WORDS = {"Confirm updates for your order %(name)s": "Bestätigen Sie Updates zu %(name)s",
                 "Unsubscribe": "Abmelden"}

        def gettext(self, message):
            return self.WORDS.get(message, message)

    asked = []

    def translations_for(language):
        asked.append(language)
        return German() if language == "de" else gettext.NullTranslations()

    monkeypatch.setattr(render, "translations_for", translations_for)
    tracker = create(web, tenant)
    subscribe(web, tracker, "ann@example.test", lang="de")
    subscribe(web, tracker, "bob@example.test")
    assert rows(database, "SELECT email, language FROM mail_subscriptions ORDER BY id") == [
        ("ann@example.test", "de"), ("bob@example.test", "en")]
    worker().send_due_customer_mail()
    subjects = sorted(m["Subject"] for m in inbox.messages)
    assert subjects == ["Bestätigen Sie Updates zu Order #1234 - Blue Vase",
                        "Confirm updates for your order Order #1234 - Blue Vase"]
    assert sorted(asked) == ["de", "en"]
    german = next(m for m in inbox.messages if m["To"] == "ann@example.test")
    assert "Abmelden:" in german.get_body(("plain",)).get_content()


def test_the_api_subscribes_at_creation(web, worker, inbox, tenant, database):
    confirmed = create(web, tenant, notify_email="Ann@Example.test",
                       notify_email_confirmed=True, notify_language="fr")
    asked = create(web, tenant, name="Order #2", notify_email="bob@example.test")
    assert rows(database, "SELECT email, language, source, confirmed_at IS NOT NULL "
                          "FROM mail_subscriptions ORDER BY tracker_id") == [
        ("ann@example.test", "fr", "api", True), ("bob@example.test", "en", "api", False)]
    worker().send_due_customer_mail()
    (confirmation,) = inbox.messages  # the shop confirmed ann: only bob is asked
    assert confirmation["To"] == "bob@example.test"
    assert path(asked["tracking_url"]) in link(confirmation, "confirm")
    inbox.messages.clear()
    change(web, tenant, confirmed, "Preparing/Slicing")
    worker().send_due_customer_mail()
    assert [m["To"] for m in inbox.messages] == ["ann@example.test"]


@pytest.mark.parametrize("body, field", [
    ({"notify_email": "ann@example.test\r\nBcc: x@example.test"}, "notify_email"),
    ({"notify_email": "nope"}, "notify_email"),
    ({"notify_email": "a" * 250 + "@example.test"}, "notify_email"),
    ({"notify_email": 5}, "notify_email"),
    ({"notify_email": "ann@example.test", "notify_email_confirmed": "yes"},
     "notify_email_confirmed"),
    ({"notify_email": "ann@example.test", "notify_language": "<de>"}, "notify_language"),
])
def test_the_api_refuses_bad_notify_fields_and_creates_nothing(web, tenant, database, body,
                                                               field):
    answer = create(web, tenant, status=400, **body)
    assert [e["name"] for e in answer["errors"]] == [field]
    assert count(database, "trackers") == count(database, "mail_subscriptions") == 0


def test_subscriptions_go_with_their_tracker_and_after_the_retention(web, worker, inbox,
                                                                     tenant, database,
                                                                     tenant_session):
    gone = create(web, tenant, notify_email="ann@example.test", notify_email_confirmed=True)
    done = create(web, tenant, name="Order #2", notify_email="bob@example.test",
                  notify_email_confirmed=True)
    create(web, tenant, name="Order #3", notify_email="cy@example.test")
    create(web, tenant, name="Order #4", notify_email="di@example.test",
                   notify_email_confirmed=True)
    session = tenant_session(tenant.id)  # the app's engine: foreign keys on, on SQLite too
    session.execute(sa.delete(Tracker).where(Tracker.id == gone["id"]))
    session.commit()
    assert count(database, "mail_subscriptions") == 3
    change(web, tenant, done, "Ready for Shipping", "complete")
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE trackers SET completed_at = '2020-01-01 00:00:00+00:00' "
                             "WHERE id = :id"), {"id": done["id"]})
        conn.execute(sa.text("UPDATE mail_subscriptions SET created_at = "
                             "'2020-01-01 00:00:00+00:00' WHERE email = 'cy@example.test'"))
    purger = worker()
    purger.purge_now_and_then()
    assert rows(database, "SELECT email FROM mail_subscriptions") == [("di@example.test",)]


@pytest.mark.usefixtures("cheap_hashing")
def test_staff_see_and_remove_addresses_on_the_trackers_page(web, tenant, other_tenant,
                                                              registry, database):
    tracker = create(web, tenant, notify_email="ann@example.test", notify_email_confirmed=True)
    subscribe(web, tracker, "bob@example.test")
    page_url = f"/dashboard/acme/trackers/{tracker['id']}/"
    make_user(registry, "viewer@acme.test", tenant.id, "viewer")
    log_in(web, "viewer@acme.test")
    seen = web.get(page_url).html.find("section", attrs={"aria-labelledby": "subscribers-title"})
    text = seen.get_text(" ", strip=True)
    assert "ann@example.test · confirmed · en · added through the API" in text
    assert "bob@example.test · waiting for confirmation" in text
    assert seen.find("form") is None  # viewers cannot remove
    token = web.get("/dashboard/acme/trackers/").html.find("input", attrs={"name": "csrf_token"})
    web.post(f"{page_url}remove-subscriber",
             {"subscription": "1", "csrf_token": token["value"] if token else ""}, status=403)
    web.reset()
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    log_in(web, "owner@acme.test")
    page = web.get(page_url)
    form = next(f for f in page.forms.values() if f.action == "remove-subscriber"
                and f["subscription"].value == "1")
    after = form.submit(status=302).follow()
    assert "ann@example.test" not in after.text and "bob@example.test" in after.text
    assert rows(database, "SELECT email FROM mail_subscriptions") == [("bob@example.test",)]
    web.post(f"{page_url}remove-subscriber",
             {"subscription": "x", "csrf_token": form["csrf_token"].value}, status=400)
    web.post(f"{page_url}remove-subscriber", {"subscription": "2"}, status=400)  # no CSRF
    assert count(database, "mail_subscriptions") == 1
    # another tenant's staff: not found
    web.reset()
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    log_in(web, "owner@globex.test")
    web.get(page_url.replace("acme", "globex"), status=404)


def test_the_running_worker_sends_customer_mail_beside_webhooks(web, worker, inbox, tenant):
    import threading

    tracker = create(web, tenant)
    loop = worker(**{"tracee.webhooks.poll_seconds": "0.02"})
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        subscribe(web, tracker)
        deadline = 200
        while not inbox.messages and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        assert [m["To"] for m in inbox.messages] == ["ann@example.test"]
    finally:
        loop.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_the_api_document_describes_the_notify_fields(web):
    document = web.get("/api/v1/openapi.json").json
    body = document["paths"]["/trackers/"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    fields = schema["properties"]
    assert fields["notify_email"]["maxLength"] == 254
    assert re.fullmatch(fields["notify_email"]["pattern"].strip("^$"), "ann@example.test")
    assert "boolean" in fields["notify_email_confirmed"]["type"]
    assert "notify_email" not in schema.get("required", [])


def test_a_tenants_own_page_template_gets_its_refusals_on_a_page_of_their_own(web, tenant,
                                                                            database):
    web.put_json("/api/v1/branding/templates/tracking", {"source": "<p>{{ tracker.name }}</p>"},
                 headers=tenant.headers)
    tracker = create(web, tenant)
    url = path(tracker["tracking_url"])
    assert "subscribe-form" not in web.get(url).text  # sandboxed templates get no form token
    page = web.post(f"{url}/subscribe", {"email": "ann@example.test"}, status=400)
    assert "This form has expired" in page.html.find(id="subscribe-error").get_text()
    assert page.forms["subscribe-form"]["form_token"].value
    assert count(database, "mail_subscriptions") == 0
