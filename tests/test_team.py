"""Settings -> Team: members, roles, invitations mailed through a real SMTP server."""

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import make_app
from logins import PASSWORD, cheap_hashing, log_in, make_user  # noqa: F401
from test_cli import ini as ini  # noqa: F401  (fixture)
from test_cli import run as run  # noqa: F401  (fixture)
from test_signup import Inbox, count
from test_signup import smtp as smtp  # noqa: F401  (fixture)
from webtest import TestApp

from tracee.db import utcnow

pytestmark = pytest.mark.usefixtures("cheap_hashing")
TEAM = "/dashboard/acme/settings/team/"
NEW_PASSWORD = "a brand new secret"


@pytest.fixture(scope="module")
def invite_app(database, smtp):  # noqa: F811
    wsgi = make_app(database, **{
        "tracee.signup": "invite", "tracee.mail.smtp_url": f"smtp://127.0.0.1:{smtp[1]}",
    })
    yield wsgi
    wsgi.registry["db.engine"].dispose()


@pytest.fixture
def app(invite_app, smtp):  # noqa: F811
    smtp[0].messages.clear()
    yield TestApp(invite_app)
    invite_app.registry["ratelimiter"].reset()


@pytest.fixture
def inbox(smtp) -> Inbox:  # noqa: F811
    return smtp[0]


@pytest.fixture
def people(registry, tenant, other_tenant):
    ids = {role: make_user(registry, f"{role}@acme.test", tenant.id, role)
           for role in ("owner", "admin", "staff", "viewer")}
    ids["globex"] = make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    return ids


def roles(database) -> dict:
    with database.admin_engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
            "JOIN tenants t ON t.id = m.tenant_id WHERE t.slug = 'acme'")).all())


def invitations(database) -> list:
    with database.admin_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT email, role, token_hash, accepted_at, revoked_at FROM invitations")).all()


def send_invite(app, email, role="staff", status=302):
    form = app.get(TEAM).forms["invite"]
    form["email"] = email
    form["role"].force_value(role)
    return form.submit(status=status)


def invitation_link(inbox) -> str:
    return inbox.link()


# --- inviting and accepting -----------------------------------------------------


def test_a_new_person_joins_from_the_mail(app, people, database, inbox):
    log_in(app, "owner@acme.test")
    page = send_invite(app, "New.Person@Example.test").follow()
    assert page.html.find(role="status").get_text() == "Invitation sent."
    assert "new.person@example.test" in page.html.find("caption", string="Pending invitations")\
        .find_parent("table").get_text()
    (message,) = inbox.messages
    assert message["To"] == "new.person@example.test"
    assert message["Subject"] == "Join Acme Prints on Tracee"
    link = invitation_link(inbox)
    token = link.rsplit("/", 1)[1]
    assert link.startswith("/invitations/acme/")
    (row,) = invitations(database)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash kept

    stranger = TestApp(app.app)
    form = stranger.get(link).forms["accept"]
    assert stranger.get(link).html.find("label", attrs={"for": "f-password"}).get_text() == \
        "Password"
    form["password"] = NEW_PASSWORD
    landed = form.submit(status=302)
    assert landed.location.endswith("/dashboard/acme/trackers/")
    assert landed.follow().status_int == 200
    assert roles(database)["new.person@example.test"] == "staff"
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT email_confirmed_at FROM users WHERE email = "
                                   "'new.person@example.test'")) is not None
    # single use: the link is dead now, for anyone
    assert TestApp(app.app).get(link, status=404).html.h1.get_text() == \
        "This invitation does not work"
    assert invitations(database)[0].accepted_at is not None
    assert "No invitations are waiting." in app.get(TEAM).text


def test_signup_is_by_invitation_only_in_invite_mode(app, people):
    app.get("/signup", status=404)


def test_a_weak_password_is_refused_next_to_the_field_and_creates_nothing(
        app, people, database, inbox):
    log_in(app, "owner@acme.test")
    send_invite(app, "new@example.test")
    stranger = TestApp(app.app)
    form = stranger.get(invitation_link(inbox)).forms["accept"]
    form["password"] = "password"
    answer = form.submit(status=400)
    assert answer.html.find(id="f-password-error").get_text()
    assert count(database, "users") == 5 + 0  # the five people of the fixture
    assert invitations(database)[0].accepted_at is None
    assert stranger.get(invitation_link(inbox)).status_int == 200  # still usable


def test_an_existing_user_logs_in_as_the_address_and_accepts(app, people, database, inbox,
                                                              registry):
    log_in(app, "owner@acme.test")
    send_invite(app, "owner@globex.test", "viewer")
    link = invitation_link(inbox)
    theirs = TestApp(app.app)
    page = theirs.get(link)
    assert "accept" not in page.forms
    to_login = page.html.find("a", string=re.compile("Log in as owner@globex.test"))["href"]
    form = theirs.get(to_login).forms["login"]
    form["email"], form["password"] = "owner@globex.test", PASSWORD
    back = form.submit(status=302)
    assert back.location.endswith(link)
    joined = back.follow().forms["accept"].submit(status=302)
    assert joined.location.endswith("/dashboard/acme/trackers/")
    assert roles(database)["owner@globex.test"] == "viewer"
    theirs.get("/dashboard/acme/trackers/", status=200)


def test_someone_else_logged_in_cannot_accept(app, people, database, inbox):
    log_in(app, "owner@acme.test")
    send_invite(app, "owner@globex.test", "admin")
    other = TestApp(app.app)
    log_in(other, "viewer@acme.test")
    page = other.get(invitation_link(inbox))
    assert "You are logged in as viewer@acme.test" in page.text
    other.post(invitation_link(inbox), {"csrf_token": _csrf(other)}, status=403)
    assert "owner@globex.test" not in roles(database)
    assert invitations(database)[0].accepted_at is None


def test_revoked_and_expired_links_do_not_work(app, people, database, inbox):
    log_in(app, "owner@acme.test")
    send_invite(app, "one@example.test")
    first = invitation_link(inbox)
    app.get(TEAM).forms[_form_id(app, "Revoke the invitation of one@example.test")]\
        .submit(status=302)
    TestApp(app.app).get(first, status=404)
    send_invite(app, "two@example.test")
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE invitations SET expires_at = :t WHERE email = 'two@example"
                             ".test'"), {"t": utcnow() - timedelta(seconds=1)})
    stranger = TestApp(app.app)
    stranger.get(invitation_link(inbox), status=404)
    assert count(database, "users") == 5


def test_inviting_again_replaces_the_earlier_link(app, people, inbox):
    log_in(app, "owner@acme.test")
    send_invite(app, "again@example.test")
    send_invite(app, "again@example.test", "viewer")
    old, new = inbox.link(0), inbox.link(1)
    TestApp(app.app).get(old, status=404)
    assert "viewer" in TestApp(app.app).get(new).text


def test_a_link_works_only_under_its_own_tenant(app, people, inbox):
    log_in(app, "owner@acme.test")
    send_invite(app, "x@example.test")
    TestApp(app.app).get(invitation_link(inbox).replace("/acme/", "/globex/"), status=404)


def test_closed_sites_make_no_accounts_from_links(app, people, inbox, database, monkeypatch):
    log_in(app, "owner@acme.test")
    send_invite(app, "new@example.test")
    monkeypatch.setitem(app.app.registry, "signup", "closed")
    stranger = TestApp(app.app)
    assert "created by its operator" in stranger.get(invitation_link(inbox)).text
    stranger.post(invitation_link(inbox), {"csrf_token": _csrf(stranger),
                                           "password": NEW_PASSWORD}, status=403)
    assert count(database, "users") == 5


@pytest.mark.parametrize(("email", "role", "field", "message"), [
    ("", "staff", "email", "Enter the email of the person to invite."),
    ("not-an-email", "staff", "email", "Enter an email address like name@example.com."),
    ("staff@acme.test", "viewer", "email", "staff@acme.test is already a member."),
    ("x@example.test", "boss", "role", "Choose one of: owner, admin, staff, viewer."),
])
def test_invite_errors_are_shown_next_to_the_field(app, people, database, inbox, email, role,
                                                   field, message):
    log_in(app, "owner@acme.test")
    answer = send_invite(app, email, role, status=400)
    assert answer.html.find(id=f"f-{field}-error").get_text() == message
    assert answer.html.find(id=f"f-{field}")["aria-describedby"] == f"f-{field}-error"
    assert invitations(database) == [] and inbox.messages == []


def test_only_an_owner_invites_an_owner(app, people, database, inbox):
    log_in(app, "admin@acme.test")
    options = [o["value"] for o in app.get(TEAM).html.find(id="f-role").find_all("option")]
    assert options == ["admin", "staff", "viewer"]
    answer = send_invite(app, "boss@example.test", "owner", status=400)
    assert answer.html.find(id="f-role-error").get_text() == \
        "Only an owner can make someone an owner."
    assert invitations(database) == [] and inbox.messages == []


def test_the_cli_invites_and_prints_the_link(run, ini, app, people, database):  # noqa: F811
    code, out, _ = run(ini, "user", "invite", "Cli@Example.test", "--tenant", "acme",
                       "--role", "viewer")
    assert code == 0
    link = out.splitlines()[-1]
    assert link.startswith("https://tracee.test/invitations/acme/")
    form = TestApp(app.app).get(link.replace("https://tracee.test", "")).forms["accept"]
    form["password"] = NEW_PASSWORD
    form.submit(status=302)
    assert roles(database)["cli@example.test"] == "viewer"
    code, _, err = run(ini, "user", "invite", "staff@acme.test", "--tenant", "acme",
                       "--role", "viewer")
    assert code == 2 and "staff@acme.test is already a member." in err


# --- roles and removal ----------------------------------------------------------


def _csrf(app) -> str:
    """The token of whoever ``app`` is (from any page with a form)."""
    page = app.get("/dashboard/")
    while page.status_int == 302:
        page = page.follow()
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _form_id(app, label) -> int:
    page = app.get(TEAM)
    button = page.html.find("button", attrs={"aria-label": label})
    forms = page.html.find_all("form")
    return forms.index(button.find_parent("form"))


def set_role(app, user_id, role, status=302):
    return app.post(f"{TEAM}members/{user_id}/role", {"role": role, "csrf_token": _csrf(app)},
                    status=status)


def remove(app, user_id, status=302):
    return app.post(f"{TEAM}members/{user_id}/remove", {"csrf_token": _csrf(app)},
                    status=status)


def test_changing_a_role_from_the_page(app, people, database):
    log_in(app, "owner@acme.test")
    form = app.get(TEAM).forms[_form_id(app, "Change role of staff@acme.test")]
    form["role"] = "admin"
    assert form.submit(status=302).follow().html.find(role="status").get_text() == \
        "Role changed."
    assert roles(database)["staff@acme.test"] == "admin"


def test_owner_rules(app, people, database):
    log_in(app, "admin@acme.test")
    page = app.get(TEAM)
    assert not page.html.find("button", attrs={"aria-label": "Change role of owner@acme.test"})
    answer = set_role(app, people["staff"], "owner", status=400)
    assert answer.html.find(id=f"member-{people['staff']}-error").get_text() == \
        "Only an owner can make someone an owner."
    set_role(app, people["owner"], "viewer", status=400)
    assert "Only an owner can remove an owner." in remove(app, people["owner"], status=400).text
    assert roles(database)["owner@acme.test"] == "owner"
    app.reset()
    log_in(app, "owner@acme.test")
    answer = set_role(app, people["owner"], "admin", status=400)
    assert "This is the last owner" in answer.text
    assert "This is the last owner" in remove(app, people["owner"], status=400).text
    set_role(app, people["admin"], "owner")
    set_role(app, people["owner"], "admin")  # now there is another owner
    assert roles(database)["owner@acme.test"] == "admin"


def test_removing_a_member_ends_their_access(app, people, database):
    log_in(app, "owner@acme.test")
    page = app.get(f"{TEAM}members/{people['staff']}/remove")
    assert page.html.h1.get_text() == "Remove staff@acme.test?"
    page.forms["remove-form"].submit(status=302)
    assert "staff@acme.test" not in roles(database)
    gone = TestApp(app.app)
    log_in(gone, "staff@acme.test")
    gone.get("/dashboard/acme/trackers/", status=404)


def test_leaving_sends_you_out(app, people, database):
    log_in(app, "admin@acme.test")
    assert remove(app, people["admin"]).location.endswith("/dashboard/")
    assert "admin@acme.test" not in roles(database)


def test_another_tenants_members_are_not_found(app, people):
    log_in(app, "owner@acme.test")
    app.get(f"{TEAM}members/{people['globex']}/remove", status=404)
    set_role(app, people["globex"], "viewer", status=404)
    app.get(f"{TEAM}invitations/{'0' * 64}/revoke", status=404)


def test_forms_without_their_csrf_token_change_nothing(app, people, database, inbox):
    log_in(app, "owner@acme.test")
    send_invite(app, "keep@example.test")
    inbox.messages.clear()
    before, pending = roles(database), invitations(database)
    token_hash = pending[0].token_hash
    for path, data in [
        (f"{TEAM}invite", {"email": "csrf@example.test", "role": "staff"}),
        (f"{TEAM}members/{people['staff']}/role", {"role": "viewer"}),
        (f"{TEAM}members/{people['staff']}/remove", {}),
        (f"{TEAM}invitations/{token_hash}/revoke", {}),
    ]:
        answer = app.post(path, data, expect_errors=True)
        assert answer.status_int in (400, 403), path
    assert roles(database) == before and invitations(database) == pending
    assert inbox.messages == []


def test_accepting_without_the_csrf_token_changes_nothing(app, people, database, inbox):
    log_in(app, "owner@acme.test")
    send_invite(app, "new@example.test")
    stranger = TestApp(app.app)
    stranger.get(invitation_link(inbox))
    answer = stranger.post(invitation_link(inbox), {"password": NEW_PASSWORD},
                           expect_errors=True)
    assert answer.status_int in (400, 403)
    assert count(database, "users") == 5


# --- the role table for the team's routes ---------------------------------------------

MANAGERS = {"owner": 302, "admin": 302, "staff": 403, "viewer": 403,
            "another tenant's owner": 404}


@pytest.mark.parametrize("who", ["owner", "admin", "staff", "viewer",
                                 "another tenant's owner", "anonymous"])
def test_role_table(app, people, database, who):
    log_in(app, "owner@acme.test")
    send_invite(app, "waiting@example.test")
    token_hash = invitations(database)[0].token_hash
    app.reset()
    if who != "anonymous":
        log_in(app, "owner@globex.test" if who.startswith("another") else f"{who}@acme.test")
    csrf = _csrf(app)
    viewer = people["viewer"]
    requests = [
        ("GET", TEAM, {}),
        ("GET", f"{TEAM}members/{viewer}/remove", {}),
        ("POST", f"{TEAM}invite", {"email": "n@example.test", "role": "staff"}),
        ("POST", f"{TEAM}members/{viewer}/role", {"role": "viewer"}),
        ("POST", f"{TEAM}invitations/{token_hash}/revoke", {}),
        ("POST", f"{TEAM}members/{viewer}/remove", {}),
    ]
    for method, path, data in requests:
        if method == "GET":
            answer = app.get(path, expect_errors=True)
            expected = {**MANAGERS, "owner": 200, "admin": 200}.get(who, 302)
        else:
            answer = app.post(path, {**data, "csrf_token": csrf}, expect_errors=True)
            expected = MANAGERS.get(who, 302)
        assert answer.status_int == expected, (who, method, path, answer.status)
        if who == "anonymous":
            assert "/login?next=" in answer.location
    if who in ("staff", "viewer", "another tenant's owner", "anonymous"):
        assert roles(database)["viewer@acme.test"] == "viewer"
        assert invitations(database)[0].revoked_at is None
