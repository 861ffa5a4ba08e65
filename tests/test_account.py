"""Account: change email (confirmed from the new address), change password,
sign out everywhere; mail read from a real SMTP server."""

import re

import pytest
import sqlalchemy as sa
from logins import PASSWORD, cheap_hashing, log_in, make_user  # noqa: F401
from test_signup import smtp as smtp  # noqa: F401  (fixture)
from test_team import app as app  # noqa: F401  (fixture)
from test_team import inbox as inbox  # noqa: F401  (fixture)
from test_team import invite_app as invite_app  # noqa: F401  (fixture)
from webtest import TestApp

from tracee.accounts.sessions import COOKIE

pytestmark = pytest.mark.usefixtures("cheap_hashing")
NEW_PASSWORD = "a brand new secret"


@pytest.fixture
def person(app, registry, tenant):  # noqa: F811
    make_user(registry, "ann@acme.test", tenant.id, "staff")
    log_in(app, "ann@acme.test")
    return tenant


def emails(database) -> list:
    with database.admin_engine.connect() as conn:
        return conn.scalars(sa.text("SELECT email FROM users ORDER BY email")).all()


def submit(app, form_id, status=302, **fields):
    form = app.get("/account/").forms[form_id]
    for name, value in fields.items():
        form[name] = value
    return form.submit(status=status)


def test_the_account_page_is_linked_from_the_user_menu(app, person):  # noqa: F811
    page = app.get("/dashboard/acme/trackers/")
    assert page.html.find("details", class_="user-menu").find("a", string="Account")["href"] \
        == "/account/"
    page = app.get("/account/")
    labels = [label.get_text() for label in page.html.find_all("label")]
    assert labels == ["New email", "Current password", "Current password", "New password"]
    assert page.html.find("button", string="Sign out everywhere")


def test_changing_email_waits_for_the_new_address(app, person, database, inbox):  # noqa: F811
    done = submit(app, "change-email", new_email="Ann.New@Example.test",
                  email_password=PASSWORD).follow()
    assert "Almost done" in done.html.find(role="status").get_text()
    assert emails(database) == ["ann@acme.test"]  # nothing changed yet
    to_new, to_old = inbox.messages
    assert to_new["To"] == "ann.new@example.test" and to_old["To"] == "ann@acme.test"
    assert "ann.new@example.test" in to_old.get_body(("plain",)).get_content()
    link = inbox.link(0)
    assert link.startswith("/account/confirm-email/")
    stranger = TestApp(app.app)  # the link needs no login: the mail is the proof
    stranger.get(link).forms["confirm"].submit()
    assert emails(database) == ["ann.new@example.test"]
    stranger.get(link, status=404)  # once only
    log_in(TestApp(app.app), "ann.new@example.test")
    log_in(TestApp(app.app), "ann@acme.test", status=400)


def test_a_password_change_cancels_a_pending_email_change(app, person, database, inbox):  # noqa: F811
    submit(app, "change-email", new_email="thief@example.test", email_password=PASSWORD)
    link = inbox.link(0)
    submit(app, "change-password", current_password=PASSWORD, new_password=NEW_PASSWORD)
    TestApp(app.app).get(link).forms["confirm"].submit(status=404)
    assert emails(database) == ["ann@acme.test"]


@pytest.mark.parametrize(("fields", "errors"), [
    ({"new_email": "", "email_password": PASSWORD},
     {"new_email": "Enter an email address like name@example.com."}),
    ({"new_email": "ann@acme.test", "email_password": PASSWORD},
     {"new_email": "This is your address already."}),
    ({"new_email": "other@acme.test", "email_password": PASSWORD},
     {"new_email": "Another account uses this address."}),
    ({"new_email": "fine@example.test", "email_password": "wrong password"},
     {"email_password": "Your current password is not this."}),
])
def test_email_change_errors_are_shown_next_to_the_field(app, person, registry, inbox,  # noqa: F811
                                                         database, fields, errors):
    make_user(registry, "other@acme.test")
    answer = submit(app, "change-email", status=400, **fields)
    for name, message in errors.items():
        assert answer.html.find(id=f"f-{name}-error").get_text() == message
    assert inbox.messages == []
    assert emails(database) == ["ann@acme.test", "other@acme.test"]


def test_changing_password_ends_the_other_sessions_only(app, person, database):  # noqa: F811
    elsewhere = TestApp(app.app)
    log_in(elsewhere, "ann@acme.test")
    done = submit(app, "change-password", current_password=PASSWORD,
                  new_password=NEW_PASSWORD).follow()
    assert "Your password has been changed" in done.text
    app.get("/dashboard/acme/trackers/", status=200)  # this browser stays in
    elsewhere.get("/dashboard/acme/trackers/", status=302)  # the other is out
    log_in(TestApp(app.app), "ann@acme.test", NEW_PASSWORD)


@pytest.mark.parametrize(("current", "new", "field", "message"), [
    ("wrong password", NEW_PASSWORD, "current_password", "Your current password is not this."),
    (PASSWORD, "short", "new_password", None),
    (PASSWORD, "", "new_password", None),
])
def test_password_change_errors_are_shown_next_to_the_field(app, person, current, new,  # noqa: F811
                                                            field, message):
    answer = submit(app, "change-password", status=400, current_password=current,
                    new_password=new)
    error = answer.html.find(id=f"f-{field}-error").get_text()
    assert error == message if message else error
    app.reset()
    log_in(app, "ann@acme.test", PASSWORD)  # unchanged


def test_wrong_current_passwords_are_throttled(app, person, registry):  # noqa: F811
    for _ in range(10):
        submit(app, "change-password", status=400, current_password="wrong password",
               new_password=NEW_PASSWORD)
    answer = submit(app, "change-password", status=429, current_password=PASSWORD,
                    new_password=NEW_PASSWORD)
    assert "Too many attempts, try again in 5 minutes." in answer.text
    app.reset()
    log_in(app, "ann@acme.test", status=429)  # the guesses count against logging in too
    registry["ratelimiter"].reset()
    app.app.registry["ratelimiter"].reset()
    log_in(app, "ann@acme.test", PASSWORD)  # the correct try was not let through


def test_sign_out_everywhere_ends_every_session(app, person):  # noqa: F811
    elsewhere = TestApp(app.app)
    log_in(elsewhere, "ann@acme.test")
    answer = app.get("/account/").forms["sign-out-everywhere"].submit(status=302)
    assert answer.location.endswith("/login")
    assert COOKIE + "=;" in answer.headers["Set-Cookie"].replace('""', "")
    for browser in (app, elsewhere):
        browser.get("/dashboard/acme/trackers/", status=302)


def test_forms_without_their_csrf_token_change_nothing(app, person, database, inbox):  # noqa: F811
    for path, data in [
        ("/account/email", {"new_email": "x@example.test", "email_password": PASSWORD}),
        ("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("/account/sessions", {}),
    ]:
        assert app.post(path, data, expect_errors=True).status_int in (400, 403), path
    assert inbox.messages == [] and emails(database) == ["ann@acme.test"]
    app.get("/account/", status=200)  # still logged in
    log_in(TestApp(app.app), "ann@acme.test", PASSWORD)


def test_confirming_without_the_csrf_token_changes_nothing(app, person, database, inbox):  # noqa: F811
    submit(app, "change-email", new_email="new@example.test", email_password=PASSWORD)
    stranger = TestApp(app.app)
    stranger.get(inbox.link(0))
    assert stranger.post(inbox.link(0), {}, expect_errors=True).status_int in (400, 403)
    assert emails(database) == ["ann@acme.test"]


@pytest.mark.parametrize("who", ["owner", "admin", "staff", "viewer",
                                 "another tenant's owner", "anonymous"])
def test_role_table(app, registry, tenant, other_tenant, who):  # noqa: F811
    """The account is the person's own, whatever their role: every login gets it."""
    if who != "anonymous":
        mine = other_tenant if who.startswith("another") else tenant
        make_user(registry, f"{who.split()[0]}@x.test", mine.id,
                  "owner" if who.startswith("another") else who)
        log_in(app, f"{who.split()[0]}@x.test")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', app.get("/login").text
                     if who == "anonymous" else app.get("/account/").text).group(1)
    for method, path in [("GET", "/account/"), ("POST", "/account/email"),
                         ("POST", "/account/password")]:
        if method == "GET":
            answer = app.get(path, expect_errors=True)
        else:
            answer = app.post(path, {"csrf_token": csrf}, expect_errors=True)
        if who == "anonymous":
            assert answer.status_int == 302 and "/login?next=" in answer.location, path
        else:
            assert answer.status_int == (200 if method == "GET" else 400), (who, path)
            assert answer.headers["Cache-Control"] == "no-store"
