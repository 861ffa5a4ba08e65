"""Users, memberships and passwords: the domain and the ``tracee user`` commands."""

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from conftest import make_settings
from logins import cheap_hashing  # noqa: F401  (fixture)
from test_cli import assert_fails, rows
from test_cli import ini as ini  # noqa: F401  (fixture)
from test_cli import run as run  # noqa: F401  (fixture)

from tracee.accounts import passwords
from tracee.accounts.models import Membership, User
from tracee.accounts.passwords import PasswordRejected, check_new_password
from tracee.accounts.service import (
    EmailTaken,
    InvalidEmail,
    add_membership,
    authenticate,
    create_user,
    memberships_of_user,
    set_password,
)
from tracee.accounts.tokens import RESET_PASSWORD, SECOND_STEP, issue_token, valid_token
from tracee.tenancy.scope import TenantScopeError
from tracee.worker import Worker

GOOD = "correct horse battery"


# --- passwords ------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, reason",
    [("short", "at least 10"), ("x" * 1001, "at most"), ("password123", "too common"),
     ("Qwertyuiop", "too common"), ("1234567890", "too common"),
     ("ann.smith@example.com", "email"), ("ann.smith1", None)],
)
def test_password_rules(password, reason):
    if reason is None:
        check_new_password(password, "ann.smith@example.com")
        return
    with pytest.raises(PasswordRejected, match=reason):
        check_new_password(password, "ann.smith@example.com")


def test_hashes_are_argon2id_and_verify():
    hashed = passwords.hash_password(GOOD)
    assert hashed.startswith("$argon2id$") and GOOD not in hashed
    assert passwords.verify_password(hashed, GOOD)
    assert not passwords.verify_password(hashed, GOOD + "!")
    assert not passwords.verify_password(None, GOOD)
    assert not passwords.verify_password("not a hash", GOOD)


def test_login_rehashes_a_hash_made_with_old_parameters(db_session):
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(GOOD)
    user = create_user(db_session, "ann@example.com")
    user.password_hash = old
    db_session.commit()
    assert authenticate(db_session, "ann@example.com", GOOD) is user
    assert user.password_hash != old and not passwords.needs_rehash(user.password_hash)
    db_session.commit()
    assert authenticate(db_session, "ANN@example.com", GOOD) is user


@pytest.mark.usefixtures("cheap_hashing")
def test_authenticate_refuses_unknown_wrong_and_unset(db_session):
    create_user(db_session, "ann@example.com", GOOD)
    create_user(db_session, "bob@example.com")  # no password yet
    assert authenticate(db_session, "ann@example.com", "wrong password!") is None
    assert authenticate(db_session, "nobody@example.com", GOOD) is None
    assert authenticate(db_session, "bob@example.com", "") is None
    assert authenticate(db_session, "not an email", GOOD) is None


# --- users ----------------------------------------------------------------------


@pytest.mark.usefixtures("cheap_hashing")
def test_email_is_unique_whatever_its_case(db_session, database):
    user = create_user(db_session, "  Ann.Smith@Example.COM ", GOOD)
    assert user.email == "ann.smith@example.com"
    with pytest.raises(EmailTaken):
        create_user(db_session, "ANN.SMITH@example.com")
    db_session.commit()
    # and the database holds it too, whatever the code does
    with pytest.raises(sa.exc.IntegrityError), database.admin_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (email, created_at) VALUES "
                             "('ann.smith@example.com', CURRENT_TIMESTAMP)"))


@pytest.mark.parametrize("email", ["", "ann", "ann@", "@example.com", "ann@example",
                                   "a b@example.com", "ann@exa mple.com", "ann\x00@example.com",
                                   "a" * 250 + "@example.com"])
def test_invalid_emails_are_refused(db_session, email):
    with pytest.raises(InvalidEmail):
        create_user(db_session, email)


def test_a_password_is_checked_before_it_is_stored(db_session):
    user = create_user(db_session, "ann@example.com")
    with pytest.raises(PasswordRejected):
        set_password(user, "password1234")
    assert user.password_hash is None


# --- memberships ----------------------------------------------------------------


@pytest.mark.usefixtures("cheap_hashing")
def test_memberships_are_tenant_data(db_session, tenant, other_tenant):
    user = create_user(db_session, "ann@example.com", GOOD)
    with pytest.raises(TenantScopeError):
        db_session.scalars(sa.select(Membership)).all()
    add_membership(db_session, tenant.id, user, "admin")
    db_session.commit()
    assert db_session.get(Membership, (tenant.id, user.id)).role == "admin"


@pytest.mark.usefixtures("cheap_hashing")
def test_a_user_lists_their_own_tenants_and_no_one_elses(registry, tenant, other_tenant):
    session = registry["db.session_factory"]()
    ann = create_user(session, "ann@example.com", GOOD)
    bob = create_user(session, "bob@example.com", GOOD)
    session.commit()
    for tenant_id, user, role in ((tenant.id, ann, "owner"), (other_tenant.id, ann, "viewer"),
                                  (other_tenant.id, bob, "owner")):
        session.close()
        add_membership(session, tenant_id, user, role)
        session.commit()
        session.info.clear()  # a fresh, unbound session for the next tenant
    session.close()
    found = memberships_of_user(session, ann.id)
    assert [(m.slug, m.role) for m in found] == [("acme", "owner"), ("globex", "viewer")]
    session.close()
    assert [(m.slug, m.role) for m in memberships_of_user(session, bob.id)] == [
        ("globex", "owner")]
    session.close()


def test_rls_shows_a_user_only_their_own_memberships(database, registry, tenant, other_tenant):
    if database.kind != "postgresql":
        pytest.skip("row-level security exists only on PostgreSQL")
    session = registry["db.session_factory"]()
    ann, bob = create_user(session, "ann@example.com"), create_user(session, "bob@example.com")
    session.commit()
    add_membership(session, other_tenant.id, bob, "owner")
    session.commit()
    session.close()
    engine = sa.create_engine(database.app_url)
    try:
        with engine.begin() as conn:
            def count():
                return conn.scalar(sa.text("SELECT count(*) FROM memberships"))
            assert count() == 0  # neither tenant nor user named
            conn.execute(sa.text("SELECT set_config('app.user_id', :u, true)"), {"u": str(ann.id)})
            assert count() == 0  # ann has no membership; bob's row stays hidden
            conn.execute(sa.text("SELECT set_config('app.user_id', :u, true)"), {"u": str(bob.id)})
            assert count() == 1
            # reading by user grants no writes: the row is not in this transaction's tenant
            changed = conn.execute(sa.text("UPDATE memberships SET role = 'viewer'")).rowcount
            assert changed == 0
            with pytest.raises(sa.exc.DBAPIError, match="row-level security"), conn.begin_nested():
                conn.execute(sa.text(
                    "INSERT INTO memberships (tenant_id, user_id, role, created_at) "
                    "VALUES (:t, :u, 'owner', CURRENT_TIMESTAMP)"), {"t": tenant.id, "u": bob.id})
    finally:
        engine.dispose()


# --- the command line -------------------------------------------------------------


def _stdin(monkeypatch, text):
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


@pytest.mark.usefixtures("cheap_hashing")
def test_user_create_list_remove(run, ini, tenant, database, monkeypatch, db_session):
    _stdin(monkeypatch, GOOD + "\n")
    code, out, err = run(ini, "user", "create", "Ann@Example.com", "--tenant", "acme",
                         "--role", "owner", "--password-stdin")
    assert (code, err) == (0, "") and out == "created user ann@example.com: owner of acme\n"
    assert authenticate(db_session, "ann@example.com", GOOD) is not None
    code, out, _ = run(ini, "user", "create", "bob@example.com", "--tenant", "acme",
                       "--role", "viewer")
    assert code == 0 and "No password is set yet" in out
    code, out, _ = run(ini, "user", "list", "acme")
    assert out.splitlines() == ["email\trole\tconfirmed\tpassword",
                                "ann@example.com\towner\tyes\tset",
                                "bob@example.com\tviewer\tno\tnot set"]
    assert_fails(run(ini, "user", "remove", "ann@example.com", "--tenant", "acme"),
                 "last owner")
    code, out, _ = run(ini, "user", "remove", "BOB@example.com", "--tenant", "acme")
    assert (code, out) == (0, "removed bob@example.com from acme\n")
    assert rows(database, "SELECT role FROM memberships") == [("owner",)]


@pytest.mark.usefixtures("cheap_hashing")
@pytest.mark.parametrize(
    "argv, stdin, words",
    [
        (["create", "ann@example.com", "--tenant", "nobody", "--role", "owner"], "", ["nobody"]),
        (["create", "not-an-email", "--tenant", "acme", "--role", "owner"], "", ["email"]),
        (["create", "ann@example.com", "--tenant", "acme", "--role", "owner",
          "--password-stdin"], "password123\n", ["too common"]),
        (["create", "ann@example.com", "--tenant", "acme", "--role", "owner",
          "--password-stdin"], "", ["standard input"]),
        (["remove", "nobody@example.com", "--tenant", "acme"], "", ["no user"]),
        (["list", "nobody"], "", ["nobody"]),
    ],
)
@pytest.mark.usefixtures("cheap_hashing")
def test_user_command_refusals(run, ini, tenant, database, monkeypatch, argv, stdin, words):
    _stdin(monkeypatch, stdin)
    assert_fails(run(ini, "user", *argv), *words)
    assert rows(database, "SELECT count(*) FROM users") == [(0,)]


@pytest.mark.usefixtures("cheap_hashing")
def test_demo_prints_a_login_that_works(run, ini, db_session):
    logins = []
    for _ in range(2):
        code, out, _ = run(ini, "demo")
        assert code == 0
        logins.append(re.search(r"email (\S+)  password (\S+)", out).groups())
    (email, old), (email_again, new) = logins
    assert email == email_again == "demo@example.com" and old != new
    assert authenticate(db_session, email, old) is None  # a re-run replaces the password
    user = authenticate(db_session, email, new)
    assert isinstance(user, User) and user.email_confirmed_at is not None
    assert [(m.slug, m.role) for m in memberships_of_user(db_session, user.id)] == [
        ("demo", "owner")]


@pytest.mark.usefixtures("cheap_hashing")
def test_every_refusal_costs_one_hash_check(db_session, monkeypatch):
    """Unknown emails and users without a password are checked against a dummy
    hash, so the time taken does not tell which accounts exist."""
    create_user(db_session, "ann@example.com", GOOD)
    create_user(db_session, "bob@example.com")
    checked = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password",
                        lambda stored, given: checked.append(stored) or real(stored, given))
    for email in ("ann@example.com", "bob@example.com", "nobody@example.com"):
        assert authenticate(db_session, email, "wrong password!") is None
    assert len(checked) == 3 and all(checked)


def test_the_worker_purges_ended_sessions_and_expired_links(db_session, database, registry):
    """Ended sessions (in the database store) and mailed links past their expiry
    are refused already; the worker's hourly purge removes them, and only them."""
    store = registry["sessions"]
    user = create_user(db_session, "ann@example.com")
    db_session.flush()
    live_token, live = store.start(db_session, user.id)
    _, idle = store.start(db_session, user.id)
    _, old = store.start(db_session, user.id)
    fresh_link = issue_token(db_session, user, RESET_PASSWORD)
    issue_token(db_session, user, RESET_PASSWORD)
    issue_token(db_session, user, SECOND_STEP)
    db_session.commit()
    now = datetime.now(UTC)
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE user_sessions SET last_seen_at = :t WHERE key_hash = :k"),
                     {"t": now - store.idle - timedelta(minutes=1), "k": idle.key_hash})
        conn.execute(sa.text("UPDATE user_sessions SET created_at = :t WHERE key_hash = :k"),
                     {"t": now - store.max_age - timedelta(minutes=1), "k": old.key_hash})
        conn.execute(sa.text("UPDATE user_tokens SET expires_at = :t WHERE token_hash <> :h"),
                     {"t": now - timedelta(seconds=1), "h": hashlib.sha256(
                         fresh_link.encode()).hexdigest()})
    worker = Worker(make_settings(database))
    try:
        worker.purge_now_and_then()
    finally:
        worker.engine.dispose()
    assert rows(database, "SELECT key_hash FROM user_sessions") == [(live.key_hash,)]
    assert len(rows(database, "SELECT token_hash FROM user_tokens")) == 1
    assert store.load(db_session, live_token) is not None
    assert valid_token(db_session, fresh_link, RESET_PASSWORD) is not None
