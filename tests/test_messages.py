"""Questions asked on the tracking page, answered from the dashboard: the
page, the inbox, the reply on the page and by mail (a real SMTP server), the
webhook (verified with the standardwebhooks library), and every refusal."""

import re
import time

import pytest
import sqlalchemy as sa
from conftest import make_app, make_settings
from logins import cheap_hashing, log_in, make_user  # noqa: F401
from standardwebhooks import Webhook
from test_signup import free_port
from test_signup import smtp as smtp  # noqa: F401  (fixture)
from test_webhooks_delivery import FAST as HOOKS
from test_webhooks_delivery import until
from test_webhooks_delivery import worker as worker  # noqa: F401  (fixture)
from webhook_receiver import receiver
from webtest import TestApp

from tracee.worker import Worker

pytestmark = pytest.mark.usefixtures("cheap_hashing")
FAST = {**HOOKS, "tracee.messages.mail_retry_delays": "0.05"}
XSS = '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" & http://evil.test/x'


@pytest.fixture(scope="module")
def mail_settings(smtp):
    return {**FAST, "tracee.mail.smtp_url": f"smtp://127.0.0.1:{smtp[1]}",
            "tracee.mail.from": "Acme via Tracee <hello@tracee.test>"}


@pytest.fixture(scope="module")
def messages_wsgi(database, mail_settings):
    wsgi = make_app(database, **mail_settings)
    yield wsgi
    wsgi.registry["db.engine"].dispose()


@pytest.fixture
def app(messages_wsgi, smtp):
    smtp[0].messages.clear()
    yield TestApp(messages_wsgi)
    messages_wsgi.registry["ratelimiter"].reset()


@pytest.fixture
def registry(messages_wsgi):
    return messages_wsgi.registry


def page_path(tracker) -> str:
    return tracker["tracking_url"].replace("https://tracee.test", "")


def ask(app, tracker, status=303, page_params=None, **fields):
    form = app.get(page_path(tracker), page_params).forms["ask-form"]
    values = {"text": "When will my vase ship?", **fields}
    for name, value in values.items():
        form[name].force_value(value) if name == "website" else form.set(name, value)
    return form.submit(status=status)


def stored(database, table="tracker_messages") -> list:
    with database.admin_engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()


def events_of(database) -> list:
    with database.admin_engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text(
            "SELECT type FROM tracker_events ORDER BY seq"))]


@pytest.fixture
def staff(app, registry, tenant):
    make_user(registry, "staff@acme.test", tenant.id, "staff")
    log_in(app, "staff@acme.test")
    return tenant


def dashboard_reply(app, tracker, text, status=302):
    page = app.get(f"/dashboard/acme/trackers/{tracker['id']}/")
    form = page.forms["reply-form"]
    form["text"] = text
    return form.submit(status=status)


# --- the whole round ------------------------------------------------------------------


def test_ask_answer_on_the_page_and_by_mail(app, staff, create, database, smtp, worker,
                                            mail_settings):
    inbox_mail = smtp[0]
    tracker = create("Order #1234 - Blue Vase")
    public = page_path(tracker)
    before = app.get(public)
    assert before.html.find(id="ask-title").get_text() == "Ask a question"
    assert before.html.find("ol", class_="thread") is None  # no conversation yet

    answer = ask(app, tracker, name="Ann Smith", email="Ann@Example.test")
    assert answer.location.endswith(f"{public}?sent=1#conversation")
    after = answer.follow()
    assert after.html.find(role="status").get_text().startswith("Thank you")
    thread = after.html.find("ol", class_="thread").get_text(" ", strip=True)
    assert "Ann Smith" in thread and "When will my vase ship?" in thread
    assert "ann@example.test" not in after.text  # the address is never shown publicly

    # the inbox, newest first, unread
    inbox_page = app.get("/dashboard/acme/messages/")
    row = inbox_page.html.find("tbody").find("tr")
    assert "unread" in row["class"]
    assert "When will my vase ship?" in row.get_text() and "ann@example.test" in row.get_text()
    assert "1 question" in inbox_page.text
    tracker_page = inbox_page.click("#1234 Order #1234 - Blue Vase")
    assert "When will my vase ship?" in tracker_page.html.find(id="conversation").get_text()
    # opening the tracker's page read it
    assert app.get("/dashboard/acme/messages/", {"state": "unread"}).html.find("tbody") is None
    assert "Read, not answered" in app.get("/dashboard/acme/messages/").text

    dashboard_reply(app, tracker, "Tomorrow morning, Ann!")
    assert "Answered" in app.get("/dashboard/acme/messages/").text
    shown = app.get(public).html.find("ol", class_="thread").find_all("li")
    assert [li["class"][1] for li in shown] == ["msg-question", "msg-reply"]
    assert "Tomorrow morning, Ann!" in shown[1].get_text()
    assert "Acme" in shown[1].find(class_="msg-who").get_text()
    assert events_of(database)[-2:] == ["tracker.message_received", "message.replied"]

    with worker(**mail_settings):
        until(lambda: len(inbox_mail.messages) == 1)
        until(lambda: stored(database, "message_mails")[0]["state"] == "sent")
    mail = inbox_mail.messages[0]
    assert mail["To"] == "ann@example.test"
    assert mail["Subject"] == "Acme Prints answered your question about order #" + str(
        tracker["number"])
    body = mail.get_body(("plain",)).get_content()
    assert "Tomorrow morning, Ann!" in body and tracker["tracking_url"] in body


def test_the_reply_mail_speaks_the_language_the_question_was_asked_in(
        app, staff, create, database, smtp, worker, mail_settings):
    inbox_mail = smtp[0]
    inbox_mail.messages.clear()
    tracker = create("Order #77 - Lamp")
    ask(app, tracker, page_params={"lang": "de"}, email="jan@example.test")
    assert [m["language"] for m in stored(database)] == ["de"]
    dashboard_reply(app, tracker, "Morgen früh!")
    with worker(**mail_settings):
        until(lambda: len(inbox_mail.messages) == 1)
    mail = inbox_mail.messages[0]
    number = tracker["number"]
    assert mail["Subject"] == f"Acme Prints hat Ihre Frage zur Bestellung Nr. {number} beantwortet"
    body = mail.get_body(("plain",)).get_content()
    assert "Ihre Frage:" in body and "Morgen früh!" in body


def test_a_reply_without_an_address_shows_on_the_page_only(app, staff, create, database):
    tracker = create()
    ask(app, tracker)
    dashboard_reply(app, tracker, "Friday.")
    assert stored(database, "message_mails") == []
    assert "Friday." in app.get(page_path(tracker)).html.find("ol", class_="thread").text


def test_the_progress_view_carries_the_conversation_once_there_is_one(app, staff, create):
    tracker = create()
    progress = page_path(tracker) + "/progress.json"
    first = app.get(progress)
    assert "messages" not in first.json
    etag = first.headers["ETag"]
    app.get(progress, headers={"If-None-Match": etag}, status=304)
    ask(app, tracker, name="Ann", email="ann@example.test", text="Wrapped? <i>")
    asked = app.get(progress, headers={"If-None-Match": etag}, status=200)
    dashboard_reply(app, tracker, "Yes.")
    replied = app.get(progress, headers={"If-None-Match": asked.headers["ETag"]}, status=200)
    assert [(m["kind"], m["name"], m["text"]) for m in replied.json["messages"]] == [
        ("question", "Ann", "Wrapped? <i>"), ("reply", None, "Yes.")]
    assert "ann@example.test" not in replied.text and "staff@acme.test" not in replied.text


def statements(registry, path, app) -> int:
    engine, seen = registry["db.engine"], []

    def count(*_args):
        seen.append(1)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        app.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_page_reads_the_conversation_only_when_there_is_one(app, create, registry):
    """The form costs the page no query (its token is an HMAC); the
    conversation costs one, on trackers that have one."""
    quiet, asked = create(), create("Order #2")
    ask(app, asked)
    embed = statements(registry, page_path(quiet).replace("/track/", "/embed/") + "/", app)
    assert statements(registry, page_path(quiet), app) == embed
    assert statements(registry, page_path(asked), app) == embed + 1


# --- refusals: clear, beside the field, nothing stored ----------------------------------


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"text": "x" * 2001}, "text", "Keep your message to 2,000 characters."),
    ({"text": "   "}, "text", "Write your message."),
    ({"email": "not an address"}, "email",
     "Enter an email address like name@example.com, or leave it empty."),
    ({"email": "ann@example.test\r\nBcc: all@example.test"}, "email",
     "Enter an email address like name@example.com, or leave it empty."),
    ({"name": "Ann\r\nBcc: all@example.test"}, "name",
     "Your name must be on one line, without control characters."),
    ({"name": "N" * 101}, "name", "Keep your name to 100 characters."),
])
def test_bad_fields_are_explained_beside_the_field(app, create, database, fields, field,
                                                   message):
    tracker = create()
    page = ask(app, tracker, status=400, **fields)
    assert page.html.find(id=f"ask-{field}-error").get_text() == message
    assert page.html.find(id=f"ask-{field}")["aria-invalid"] == "true"
    assert page.headers["Cache-Control"] == "no-store"
    if field == "text" and fields["text"].strip():  # what was typed is kept
        assert page.html.find(id="ask-text").get_text() == fields["text"]
    assert stored(database) == [] and "tracker.message_received" not in events_of(database)


def test_a_forged_or_foreign_or_missing_token_is_refused(app, create, database, registry):
    tracker, other = create(), create("Order #2")
    path = page_path(tracker) + "/ask"
    tokens = registry["messages.form_tokens"]
    for token in ("", "123.abc", tokens.issue(other["tracking_url"].rsplit("/", 1)[1]),
                  tokens.issue(tracker["tracking_url"].rsplit("/", 1)[1],
                               now=time.time() - 7 * 3600)):
        page = app.post(path, {"form_token": token, "text": "Hello"}, status=400)
        assert "did not come from this page" in page.html.find(id="ask-error").get_text()
    assert stored(database) == []


def test_the_honeypot_is_refused(app, create, database):
    page = ask(app, create(), status=400, website="http://spam.test")
    assert "Leave the field" in page.html.find(id="ask-error").get_text()
    assert stored(database) == []


def test_questions_are_limited_per_address_and_per_tracker(database, create, tenant):
    limited = TestApp(make_app(database, **{
        "tracee.ratelimit.questions_per_address": "2/hour",
        "tracee.ratelimit.questions_per_tracker": "3/hour"}))
    first, second = create(), create("Order #2")
    ask(limited, first)
    ask(limited, first)
    refused = ask(limited, first, status=429)
    assert "Too many questions" in refused.html.find(id="ask-error").get_text()
    # another address may still ask about the first tracker, until its own budget is used
    other = {"REMOTE_ADDR": "192.0.2.7"}
    limited.extra_environ = other
    ask(limited, first)
    ask(limited, first, status=429)  # the tracker's 3 are used
    ask(limited, second)
    assert len(stored(database)) == 4
    limited.app.registry["db.engine"].dispose()


# --- escaping ------------------------------------------------------------------------


def test_markup_is_escaped_on_both_sides_and_links_are_not_made(app, staff, create):
    tracker = create()
    ask(app, tracker, name=XSS[:100], text=XSS)
    dashboard_reply(app, tracker, XSS)
    for page in (app.get(page_path(tracker)), app.get(f"/dashboard/acme/trackers/{tracker['id']}/"),
                 app.get("/dashboard/acme/messages/")):
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert not page.html.find("a", href=re.compile("evil"))


# --- who may do what --------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("owner", 302), ("admin", 302), ("staff", 302),
                                              ("viewer", 403)])
def test_roles_that_may_reply(app, registry, tenant, create, database, role, status):
    tracker = create()
    ask(app, tracker)
    make_user(registry, f"{role}@acme.test", tenant.id, role)
    log_in(app, f"{role}@acme.test")
    page = app.get(f"/dashboard/acme/trackers/{tracker['id']}/")
    assert (page.html.find(id="reply-text") is not None) == (status == 302)
    app.get("/dashboard/acme/messages/", status=200)
    token = page.html.find("input", attrs={"name": "csrf_token"})["value"]
    app.post(f"/dashboard/acme/trackers/{tracker['id']}/reply",
             {"csrf_token": token, "text": "Soon."}, status=status)
    assert len(stored(database)) == (2 if status == 302 else 1)


def test_replies_need_csrf_and_text_and_stay_in_their_tenant(app, registry, staff, create,
                                                             other_tenant, database):
    tracker = create()
    url = f"/dashboard/acme/trackers/{tracker['id']}/reply"
    app.post(url, {"text": "no token"}, status=400)
    page = dashboard_reply(app, tracker, "  ", status=400)
    assert page.html.find(id="reply-error").get_text() == "Write your message."
    assert page.html.find(id="reply-text")["aria-invalid"] == "true"
    app.reset()
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    log_in(app, "owner@globex.test")
    app.get("/dashboard/acme/messages/", status=404)
    app.post(url, {"text": "hi"}, status=404)
    assert stored(database) == []


def test_messages_go_with_their_tracker(app, staff, create, database, tenant_session, tenant):
    tracker = create()
    ask(app, tracker, email="ann@example.test")
    dashboard_reply(app, tracker, "Soon.")
    session = tenant_session(tenant.id)
    session.execute(sa.text("DELETE FROM trackers WHERE id = :id"), {"id": tracker["id"]})
    session.commit()
    assert stored(database) == [] and stored(database, "message_mails") == []


# --- the webhook ------------------------------------------------------------------------


def test_message_received_is_delivered_signed_with_the_tracker(app, create, worker, tenant):
    with receiver() as (url, rec):
        secret = app.post_json("/api/v1/webhooks/", {
            "url": url, "events": ["tracker.message_received"]}, headers=tenant.headers,
            status=201).json["secret"]
        tracker = create()
        ask(app, tracker, name="Ann", email="ann@example.test", text="Gift wrap? <b>")
        with worker():
            until(lambda: len(rec.received) == 1)
    body = Webhook(secret).verify(rec.received[0].body, rec.received[0].headers)
    assert body["type"] == "tracker.message_received"
    current = app.get(f"/api/v1/trackers/{tracker['id']}/", headers=tenant.headers).json
    assert body["data"]["tracker"] == current
    message = body["data"]["message"]
    assert message == {"id": 1, "text": "Gift wrap? <b>", "name": "Ann", "has_email": True,
                       "created_at": message["created_at"]}
    assert "ann@example.test" not in rec.received[0].body.decode()


# --- the API ---------------------------------------------------------------------------


def test_integrators_read_the_conversation_and_reply_by_api(app, create, tenant, other_tenant,
                                                            database):
    tracker = create()
    url = f"/api/v1/trackers/{tracker['id']}/messages/"
    assert app.get(url, headers=tenant.headers).json == []
    ask(app, tracker, name="Ann", email="ann@example.test", text="Line one\nline two")
    sent = app.post_json(url, {"text": "  Tomorrow.\nWrapped.  "}, headers=tenant.headers,
                         status=201).json
    assert (sent["kind"], sent["text"], sent["author"]) == ("reply", "Tomorrow.\nWrapped.",
                                                             f"key:{tenant.key_id}")
    listed = app.get(url, headers=tenant.headers).json
    assert [(m["kind"], m["name"], m["email"], m["text"]) for m in listed] == [
        ("question", "Ann", "ann@example.test", "Line one\nline two"),
        ("reply", None, None, "Tomorrow.\nWrapped.")]
    assert listed[0]["answered_at"] is not None
    assert len(stored(database, "message_mails")) == 1
    for bad, problem in (({"text": " "}, "Write your message."),
                         ({"text": "x" * 2001}, "must be at most 2000 characters"),
                         ({"text": "a\x00b"}, "Remove the control characters from your message."),
                         ({}, "Required")):
        error = app.post_json(url, bad, headers=tenant.headers, status=400).json
        assert error["errors"][0]["name"] == "text" and problem in error["errors"][0]["description"]
    app.get(url, headers=other_tenant.headers, status=404)
    app.post_json(url, {"text": "hi"}, headers=other_tenant.headers, status=404)
    assert len(stored(database)) == 2


def test_a_reply_mail_is_retried_then_given_up(app, staff, create, database, mail_settings):
    tracker = create()
    ask(app, tracker, email="ann@example.test")
    dashboard_reply(app, tracker, "Soon.")
    loop = Worker(make_settings(database, **{**mail_settings,
                                             "tracee.mail.smtp_url": f"smtp://127.0.0.1:{free_port()}"}))
    try:
        assert loop.reply_mails.run_once(loop.engine, loop.sessions, loop.mailer, loop.urls) == 1
        row = stored(database, "message_mails")[0]
        assert (row["state"], row["attempts"], row["claim_token"]) == ("pending", 1, None)
        time.sleep(0.1)  # the one retry delay in these settings is 0.05 s
        assert loop.reply_mails.run_once(loop.engine, loop.sessions, loop.mailer, loop.urls) == 1
        row = stored(database, "message_mails")[0]
        assert (row["state"], row["attempts"]) == ("failed", 2)
        assert loop.reply_mails.run_once(loop.engine, loop.sessions, loop.mailer, loop.urls) == 0
        with loop.engine.begin() as connection:
            assert loop.reply_mails.purge(connection, keep_days=1) == 0  # finished just now
            assert loop.reply_mails.purge(connection, keep_days=-1) == 1
        assert stored(database, "message_mails") == [] and len(stored(database)) == 2
    finally:
        loop.engine.dispose()


def test_field_errors_read_as_attributes_and_items():
    from tracee.views.ask_form import NO_ERRORS, FieldErrors

    errors = FieldErrors({"email": "bad", "form": "expired", "items": "odd"})
    assert (errors.email, errors.form, errors.name, errors.text) == ("bad", "expired", None, None)
    assert errors["name"] is None and errors["items"] == "odd" and callable(errors.items)
    assert (NO_ERRORS.form, NO_ERRORS.email, NO_ERRORS["text"], NO_ERRORS.other) == (None,) * 4
    assert not NO_ERRORS and dict(errors) == {"email": "bad", "form": "expired", "items": "odd"}
