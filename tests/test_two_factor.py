"""Two-factor: enrolment with a QR code, the code after the password, recovery
codes, turning it off, and an owner requiring it for the whole tenant."""

import hashlib
import re
import time

import pyotp
import pytest
import sqlalchemy as sa
from logins import PASSWORD, cheap_hashing, log_in, make_user  # noqa: F401
from webtest import TestApp

from tracee.accounts.models import User
from tracee.accounts.service import find_user
from tracee.accounts.sessions import COOKIE
from tracee.db import utcnow

pytestmark = pytest.mark.usefixtures("cheap_hashing")
TEAM = "/dashboard/acme/settings/team/"


def code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def turn_on(registry, email: str, sealed: bool = True) -> str:
    """Two-factor on for ``email`` (as if enrolled long ago); returns the secret.
    Not ``sealed``: stored as it was before secrets were sealed."""
    session = registry["db.session_factory"]()
    try:
        user = find_user(session, email)
        secret = pyotp.random_base32()
        user.totp_secret = registry["two_factor.sealer"].seal(secret) if sealed else secret
        user.totp_enabled_at = utcnow()
        session.commit()
        return secret
    finally:
        session.close()


def user_row(database, email):
    with database.admin_engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM users WHERE email = :e"), {"e": email}).one()


def recovery_hashes(database) -> list:
    with database.admin_engine.connect() as conn:
        return conn.scalars(sa.text("SELECT code_hash FROM recovery_codes")).all()


@pytest.fixture
def ann(app, registry, tenant):
    make_user(registry, "ann@acme.test", tenant.id, "owner")
    return tenant


def csrf_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


# --- enrolment --------------------------------------------------------------------


def test_enrol_with_the_qr_code_and_get_recovery_codes_once(app, ann, database):
    log_in(app, "ann@acme.test")
    page = app.get("/account/").click("Set up two-factor")
    img = page.html.find("img", class_="qr")
    assert img["src"].startswith("data:image/png;base64,") and img["alt"]
    secret = page.html.find("code", class_="secret").get_text()
    assert app.get("/account/two-factor").html.find("code", class_="secret").get_text() == secret
    assert user_row(database, "ann@acme.test").totp_enabled_at is None  # not yet

    form = page.forms["enrol"]
    form["code"] = "000000" if code(secret) != "000000" else "111111"
    wrong = form.submit(status=400)
    assert wrong.html.find(id="f-code-error").get_text().startswith("This code is not right")
    assert user_row(database, "ann@acme.test").totp_enabled_at is None

    form = wrong.forms["enrol"]
    form["code"] = code(secret)
    done = form.submit(status=200)
    codes = [c.get_text() for c in done.html.select(".recovery-codes code")]
    assert len(set(codes)) == 10 and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c)
                                         for c in codes)
    assert done.headers["Cache-Control"] == "no-store"
    assert user_row(database, "ann@acme.test").totp_enabled_at is not None
    stored = recovery_hashes(database)
    assert sorted(stored) == sorted(hashlib.sha256(c.replace("-", "").encode()).hexdigest()
                                    for c in codes)
    assert app.get("/account/two-factor", status=302).location.endswith("/account/")
    assert "10 recovery codes left" in app.get("/account/").text
    assert not any(c in app.get("/account/").text for c in codes)


def test_the_secret_is_sealed_at_rest(app, ann, registry, database):
    log_in(app, "ann@acme.test")
    page = app.get("/account/two-factor")
    secret = page.html.find("code", class_="secret").get_text()
    stored = user_row(database, "ann@acme.test").totp_secret
    assert secret not in stored and len(stored) > 100  # a Fernet token, not the secret
    assert registry["two_factor.sealer"].open(stored) == secret
    form = page.forms["enrol"]
    form["code"] = code(secret)
    form.submit(status=200)
    assert user_row(database, "ann@acme.test").totp_secret == stored


def test_enrolling_without_the_csrf_token_changes_nothing(app, ann, database):
    log_in(app, "ann@acme.test")
    secret = app.get("/account/two-factor").html.find("code", class_="secret").get_text()
    assert app.post("/account/two-factor", {"code": code(secret)},
                    expect_errors=True).status_int in (400, 403)
    assert user_row(database, "ann@acme.test").totp_enabled_at is None


# --- logging in -------------------------------------------------------------------


def password_step(app, email="ann@acme.test", next_path=None):
    extra = f"?next={next_path}" if next_path else ""
    form = app.get("/login" + extra).forms["login"]
    form["email"], form["password"] = email, PASSWORD
    answer = form.submit(status=302)
    assert app.cookies.get(COOKIE) is None  # no session before the code
    return answer


def test_login_asks_for_the_code_after_the_password(app, ann, registry):
    secret = turn_on(registry, "ann@acme.test")
    answer = password_step(app, next_path="/dashboard/acme/settings/")
    assert answer.location.endswith("/login/two-factor?next=%2Fdashboard%2Facme%2Fsettings%2F")
    page = answer.follow()
    app.get("/dashboard/acme/trackers/", status=302)  # half logged in is not logged in
    form = page.forms["second-step"]
    form["code"] = "12345x"
    wrong = form.submit(status=400)
    assert wrong.html.find(id="f-code-error").get_text().startswith("This code is not right")
    form = wrong.forms["second-step"]
    form["code"] = used = code(secret)
    done = form.submit(status=302)
    assert done.location.endswith("/dashboard/acme/settings/")
    assert app.cookies.get(COOKIE)
    app.get("/dashboard/acme/settings/", status=200)
    # the same code again, in another login: refused (a code works once)
    again = TestApp(app.app)
    form = password_step(again).follow().forms["second-step"]
    form["code"] = used
    form.submit(status=400)


def test_a_secret_stored_before_sealing_works_and_is_sealed_at_its_next_use(app, ann,
                                                                            registry, database):
    secret = turn_on(registry, "ann@acme.test", sealed=False)
    assert user_row(database, "ann@acme.test").totp_secret == secret
    form = password_step(app).follow().forms["second-step"]
    form["code"] = code(secret)
    form.submit(status=302)
    stored = user_row(database, "ann@acme.test").totp_secret
    assert secret not in stored and registry["two_factor.sealer"].open(stored) == secret
    # and the next code of the same secret still signs in
    again = TestApp(app.app)
    form = password_step(again).follow().forms["second-step"]
    form["code"] = code(secret, steps_ahead=1)
    form.submit(status=302)


def test_the_second_step_belongs_to_the_browser_that_gave_the_password(app, ann, registry):
    secret = turn_on(registry, "ann@acme.test")
    password_step(app)
    other = TestApp(app.app)
    assert other.get("/login/two-factor", status=302).location.endswith("/login")
    page = other.get("/login")
    other.post("/login/two-factor", {"code": code(secret), "csrf_token": csrf_of(page)},
               status=302)
    assert other.cookies.get(COOKIE) is None


def test_a_recovery_code_logs_in_once(app, ann, database):
    log_in(app, "ann@acme.test")
    page = app.get("/account/two-factor")
    secret = page.html.find("code", class_="secret").get_text()
    form = page.forms["enrol"]
    form["code"] = code(secret)
    codes = [c.get_text() for c in form.submit().html.select(".recovery-codes code")]
    for status in (302, 400):
        browser = TestApp(app.app)
        form = password_step(browser).follow().forms["second-step"]
        form["code"] = codes[0].upper()  # as typed from paper
        form.submit(status=status)
    assert "9 recovery codes left" in app.get("/account/").text


def test_wrong_codes_are_throttled(app, ann, registry):
    secret = turn_on(registry, "ann@acme.test")
    form = password_step(app).follow().forms["second-step"]
    for _ in range(10):
        form["code"] = "999999" if code(secret) != "999999" else "888888"
        form = form.submit(status=400).forms["second-step"]
    form["code"] = code(secret)
    assert "Too many attempts" in form.submit(status=429).text
    assert app.cookies.get(COOKIE) is None


def test_the_code_step_without_its_csrf_token_logs_no_one_in(app, ann, registry):
    secret = turn_on(registry, "ann@acme.test")
    password_step(app)
    assert app.post("/login/two-factor", {"code": code(secret)},
                    expect_errors=True).status_int in (400, 403)
    assert app.cookies.get(COOKIE) is None


# --- turning it off ---------------------------------------------------------------


@pytest.mark.parametrize(("password", "right_code", "field"), [
    ("wrong password", True, "off_password"),
    (PASSWORD, False, "off_code"),
])
def test_turning_off_needs_the_password_and_a_code(app, ann, registry, database, password,
                                                   right_code, field):
    log_in(app, "ann@acme.test")
    secret = turn_on(registry, "ann@acme.test")
    form = app.get("/account/").forms["two-factor-off"]
    form["off_password"], form["off_code"] = password, code(secret) if right_code else "000000"
    answer = form.submit(status=400)
    assert answer.html.find(id=f"f-{field}-error")
    assert user_row(database, "ann@acme.test").totp_enabled_at is not None


def test_turning_off(app, ann, registry, database):
    log_in(app, "ann@acme.test")
    secret = turn_on(registry, "ann@acme.test")
    assert app.post("/account/two-factor-off", {"off_password": PASSWORD,
                                                "off_code": code(secret)},
                    expect_errors=True).status_int in (400, 403)  # no CSRF token
    assert user_row(database, "ann@acme.test").totp_enabled_at is not None
    form = app.get("/account/").forms["two-factor-off"]
    form["off_password"], form["off_code"] = PASSWORD, code(secret)
    assert "Two-factor is off." in form.submit(status=302).follow().text
    row = user_row(database, "ann@acme.test")
    assert row.totp_enabled_at is None and row.totp_secret is None
    assert recovery_hashes(database) == []
    log_in(TestApp(app.app), "ann@acme.test").location.endswith("/dashboard/")


# --- an owner requires it ---------------------------------------------------------


def test_an_owner_requires_two_factor_for_everyone(app, ann, registry, database, tenant):
    make_user(registry, "sam@acme.test", tenant.id, "staff")
    log_in(app, "ann@acme.test")
    form = app.get(TEAM).forms["require-two-factor"]
    form["require"] = True
    refused = form.submit(status=400)  # not before the owner has it
    assert refused.html.find(id="f-require-error").get_text().startswith("Turn on two-factor")
    turn_on(registry, "ann@acme.test")
    form = app.get(TEAM).forms["require-two-factor"]
    form["require"] = True
    assert "Two-factor setting saved." in form.submit(status=302).follow().text

    sam = TestApp(app.app)
    log_in(sam, "sam@acme.test")
    sent = sam.get("/dashboard/acme/trackers/", status=302)
    assert sent.location.endswith("/account/two-factor?required=1")
    page = sent.follow()
    assert "requires two-factor for everyone" in page.text
    secret = page.html.find("code", class_="secret").get_text()
    form = page.forms["enrol"]
    form["code"] = code(secret)
    form.submit(status=200)
    sam.get("/dashboard/acme/trackers/", status=200)


def test_the_requirement_form_without_its_csrf_token_changes_nothing(app, ann, registry,
                                                                    database):
    log_in(app, "ann@acme.test")
    turn_on(registry, "ann@acme.test")
    app.get(TEAM, status=200)
    assert app.post(TEAM + "two-factor", {"require": "on"},
                    expect_errors=True).status_int in (400, 403)
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT require_two_factor FROM tenants WHERE slug = "
                                   "'acme'")) in (False, 0)


@pytest.mark.parametrize("who", ["owner", "admin", "staff", "viewer",
                                 "another tenant's owner", "anonymous"])
def test_role_table(app, registry, tenant, other_tenant, who):
    """Only an owner sets the requirement; everyone logged in has the enrolment page."""
    if who != "anonymous":
        mine = other_tenant if who.startswith("another") else tenant
        email = f"{who.split()[0]}@x.test"
        make_user(registry, email, mine.id, "owner" if who.startswith("another") else who)
        turn_on(registry, email)
        secret = find_secret(registry, email)
        form = password_step(app, email).follow().forms["second-step"]
        form["code"] = code(secret)
        form.submit(status=302)
    csrf = csrf_of(app.get("/login") if who == "anonymous" else app.get("/account/"))
    toggle = app.post(TEAM + "two-factor", {"csrf_token": csrf}, expect_errors=True)
    enrol = app.get("/account/two-factor", expect_errors=True)
    expected = {"owner": 302, "admin": 403, "staff": 403, "viewer": 403,
                "another tenant's owner": 404, "anonymous": 302}[who]
    assert toggle.status_int == expected, (who, toggle.status)
    if who == "anonymous":
        assert "/login?next=" in toggle.location and "/login?next=" in enrol.location
    else:
        assert enrol.status_int == 302 and enrol.location.endswith("/account/")  # on already


def find_secret(registry, email) -> str:
    session = registry["db.session_factory"]()
    try:
        stored = session.query(User).filter_by(email=email).one().totp_secret
        return registry["two_factor.sealer"].open(stored)
    finally:
        session.close()
