"""Sign-up, email confirmation and password reset, with mail read from a real
SMTP server (aiosmtpd) the app talks to over TCP."""

import email
import re
import socket
from datetime import timedelta
from email import policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import make_app
from logins import PASSWORD, cheap_hashing, log_in, make_user  # noqa: F401
from test_cli import ini as ini  # noqa: F401  (fixture)
from test_cli import run as run  # noqa: F401  (fixture)
from webtest import TestApp

from tracee.accounts.models import UserToken
from tracee.accounts.sessions import COOKIE
from tracee.db import utcnow
from tracee.mail import Mail, Mailer, MailError

pytestmark = pytest.mark.usefixtures("cheap_hashing")
NEW_PASSWORD = "a brand new secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret pass")

    def link(self, index=-1) -> str:
        text = self.messages[index].get_body(("plain",)).get_content()
        return re.search(r"https://tracee\.test(/\S+)", text).group(1)


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def open_app(database, smtp):
    inbox, port = smtp
    wsgi = make_app(database, **{
        "tracee.signup": "open", "tracee.mail.smtp_url": f"smtp://127.0.0.1:{port}",
        "tracee.mail.from": "Tracee <hello@tracee.test>",
        "tracee.mail.reply_to": "support@tracee.test",
    })
    yield wsgi
    wsgi.registry["db.engine"].dispose()


@pytest.fixture
def app(open_app, smtp):
    smtp[0].messages.clear()
    yield TestApp(open_app)
    open_app.registry["ratelimiter"].reset()


@pytest.fixture
def inbox(smtp):
    return smtp[0]


def count(database, table) -> int:
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))


def sign_up(app, status=302, **values):
    form = app.get("/signup").forms["signup"]
    fields = {"business_name": "Ann's 3D Prints!", "email": "ann@example.test",
              "password": PASSWORD, **values}
    for name, value in fields.items():
        form[name] = value
    return form.submit(status=status)


def test_labels_are_the_documented_ones(app):
    page = app.get("/signup")
    labels = [label.get_text() for label in page.html.find_all("label")]
    assert labels[:3] == ["Business name", "Email", "Password"]
    assert page.html.find("a", string="Log in")


def test_sign_up_creates_owner_and_business_and_mails_a_confirmation(app, database, inbox):
    answer = sign_up(app)
    assert answer.location.endswith("/dashboard/anns-3d-prints/trackers/")
    assert app.cookies.get(COOKIE)  # logged in at once
    page = answer.follow()
    assert "Ann&#39;s 3D Prints!" in page.text or "Ann's 3D Prints!" in page.text
    app.get("/dashboard/anns-3d-prints/settings/api-keys/", status=200)  # the owner
    with database.admin_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT u.email, m.role, u.email_confirmed_at IS NULL FROM users u "
            "JOIN memberships m ON m.user_id = u.id")).all() == [
            ("ann@example.test", "owner", True)]
    (message,) = inbox.messages
    assert message["To"] == "ann@example.test"
    assert message["From"] == "Tracee <hello@tracee.test>"
    assert message["Reply-To"] == "support@tracee.test"
    assert message.get_body(("plain",)) and message.get_body(("html",))
    html = message.get_body(("html",)).get_content()
    assert "Ann&#39;s 3D Prints!" in html  # escaped in HTML, plain in text
    link = inbox.link()
    assert link.startswith("/signup/confirm/")
    confirm = app.get(link)  # the link only shows a button: scanners confirm nothing
    assert count_confirmed(database) == 0
    done = confirm.forms["confirm"].submit(status=200)
    assert "Email confirmed" in done.text and count_confirmed(database) == 1
    app.get(link, status=404)  # used


def count_confirmed(database) -> int:
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM users "
                                   "WHERE email_confirmed_at IS NOT NULL"))


@pytest.mark.parametrize("field, value, message", [
    ("business_name", "   ", "business"),
    ("business_name", "Acme\u202eCorp", "invisible"),
    ("email", "not an email", "email address"),
    ("password", "short", "at least 10"),
    ("password", "password123", "too common"),
    ("slug", "Not A Slug", "lower-case"),
])
def test_validation_errors_are_shown_next_to_the_field(app, database, inbox, field, value,
                                                       message):
    page = sign_up(app, status=400, **{field: value})
    assert message in page.html.find(id=f"f-{field}-error").get_text()
    assert count(database, "users") == count(database, "tenants") == 0
    assert inbox.messages == []


def test_taken_email_and_address(app, database, make_tenant):
    make_tenant("anns-3d-prints")
    sign_up(app)
    app.reset()
    page = sign_up(app, status=400, business_name="Another")
    assert "already exists" in page.html.find(id="f-email-error").get_text()
    page = sign_up(app, status=400, email="bob@example.test", slug="anns-3d-prints")
    assert "taken" in page.html.find(id="f-slug-error").get_text()
    # a derived address that is taken gets a number instead
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT slug FROM tenants WHERE name = :n"),
                           {"n": "Ann's 3D Prints!"}) == "anns-3d-prints-2"
    answer = sign_up(app, email="bob@example.test", slug="bobs-shop")
    assert answer.location.endswith("/dashboard/bobs-shop/trackers/")


def test_sign_up_without_its_csrf_token_creates_nothing(app, database):
    app.get("/signup")
    app.post("/signup", {"business_name": "X", "email": "x@example.test",
                         "password": PASSWORD}, status=400)
    assert count(database, "users") == 0


def test_sign_up_is_off_unless_open(wsgi_app):
    closed = TestApp(wsgi_app)  # the test suite's default app: tracee.signup unset (closed)
    closed.get("/signup", status=404)
    login = closed.get("/login")
    assert "Sign up" not in login.text
    token = login.forms["login"]["csrf_token"].value
    closed.post("/signup", {"csrf_token": token, "business_name": "X",
                            "email": "x@example.test", "password": PASSWORD}, status=404)


# --- forgotten passwords ------------------------------------------------------------


def forgot(app, address, status=200):
    form = app.get("/login").click("Forgot password?").forms["forgot"]
    form["email"] = address
    return form.submit(status=status)


def test_reset_sets_a_new_password_once_and_ends_other_sessions(app, open_app, registry,
                                                                tenant, inbox, database):
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    elsewhere = TestApp(open_app)
    log_in(elsewhere, "owner@acme.test")
    elsewhere.get("/dashboard/acme/trackers/", status=200)

    unknown = forgot(app, "nobody@acme.test")
    known = forgot(app, "Owner@Acme.test")
    same = re.compile(r"If \S+ has an account")
    assert same.search(unknown.text) and same.search(known.text)  # no way to tell apart
    (message,) = inbox.messages  # only the real account got mail
    assert message["To"] == "owner@acme.test"
    link = inbox.link()
    form = app.get(link).forms["reset"]
    assert form.html.find("label").get_text() == "New password"
    form["password"] = "password123"
    assert "too common" in form.submit(status=400).html.find(id="f-password-error").get_text()
    form = app.get(link).forms["reset"]  # the refused try did not use the link up
    form["password"] = NEW_PASSWORD
    assert form.submit(status=302).location.endswith("/login?reset=done")
    app.get(link, status=404)  # single use
    elsewhere.get("/dashboard/acme/trackers/", status=302)  # the other session has ended
    log_in(app, "owner@acme.test", PASSWORD, status=400)
    log_in(app, "owner@acme.test", NEW_PASSWORD)


def test_a_reset_link_expires_after_an_hour(app, registry, tenant, inbox, db_session):
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    forgot(app, "owner@acme.test")
    link = inbox.link()
    (token,) = db_session.scalars(sa.select(UserToken)).all()
    assert token.expires_at - token.created_at == timedelta(hours=1)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    app.get(link, status=404)
    app.post(link, {"password": NEW_PASSWORD}, status=400)  # no CSRF token either


def test_reset_without_its_csrf_token_changes_nothing(app, registry, tenant, inbox):
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    forgot(app, "owner@acme.test")
    link = inbox.link()
    app.get(link)
    app.post(link, {"password": NEW_PASSWORD}, status=400)
    log_in(app, "owner@acme.test", PASSWORD)


def test_mail_sending_forms_are_throttled(app, inbox):
    for _ in range(5):
        forgot(app, "someone@example.test")
    page = forgot(app, "someone@example.test", status=429)
    assert "Too many attempts, try again in" in page.text


# --- the mailer ----------------------------------------------------------------------


def test_without_smtp_mail_is_written_as_eml_files(tmp_path, caplog):
    mailer = Mailer(None, str(tmp_path / "var" / "mail"), "Tracee <hello@tracee.test>")
    with caplog.at_level("INFO", logger="tracee.mail"):
        mailer.send(Mail("ann@example.test", "Hi", "plain text", "<p>html</p>"))
    (path,) = (tmp_path / "var" / "mail").glob("*.eml")
    assert str(path) in caplog.text
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "ann@example.test"
    assert message.get_body(("plain",)).get_content().strip() == "plain text"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_credentials_in_the_url_log_in_to_the_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=inbox.authenticate, auth_required=True,
                            auth_require_tls=False)
    controller.start()
    try:
        url = f"smtp://mailer%40tracee.test:s3cret%20pass@127.0.0.1:{controller.port}"
        Mailer(url, "unused", "Tracee <hello@tracee.test>").send(
            Mail("ann@example.test", "Hi", "text", "<p>html</p>"))
        assert inbox.logins == [("mailer@tracee.test", "s3cret pass")]
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_only_smtp_urls_are_accepted():
    with pytest.raises(ValueError, match="smtp://"):
        Mailer("http://mail.example.test", "unused", "x@example.test")


def test_a_user_made_without_password_gets_a_set_password_link(run, ini, app, tenant,
                                                               monkeypatch):
    code, out, _ = run(ini, "user", "create", "bob@acme.test", "--tenant", "acme",
                       "--role", "staff")
    assert code == 0
    link = out.splitlines()[-1]
    assert link.startswith("https://tracee.test/password/reset/")
    form = app.get(link.replace("https://tracee.test", "")).forms["reset"]
    form["password"] = NEW_PASSWORD
    form.submit(status=302)
    log_in(app, "bob@acme.test", NEW_PASSWORD)
    app.get("/dashboard/acme/trackers/", status=200)


def test_credentials_never_travel_in_the_clear_to_another_host():
    """127.0.0.2 is not "this machine" to the mailer: without STARTTLS there,
    the password is not sent."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.2", port=free_port())
    controller.start()
    try:
        mailer = Mailer(f"smtp://mailer:secret@127.0.0.2:{controller.port}", "unused",
                        "Tracee <hello@tracee.test>")
        with pytest.raises(MailError, match="no STARTTLS"):
            mailer.send(Mail("ann@example.test", "Hi", "text", "<p>html</p>"))
        assert inbox.messages == [] and inbox.logins == []
    finally:
        controller.stop()
