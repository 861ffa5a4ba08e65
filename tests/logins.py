"""People with roles, and logging them in through the real form."""

from functools import cache

import pytest
from argon2 import PasswordHasher

from tracee.accounts import passwords
from tracee.accounts.service import add_membership, create_user, find_user

PASSWORD = "correct horse battery"


# argon2id at the library's parameters costs a quarter of a second per login;
# tests of the pages log in often, so they use the cheapest parameters.
# tests/test_accounts.py checks the real ones, and the rehash when they change.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def cheap_hashing(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", CHEAP)
    monkeypatch.setattr(passwords, "DUMMY_HASH", _hash())


@cache
def _hash() -> str:
    return CHEAP.hash(PASSWORD)


def make_user(registry, email: str, tenant_id: int | None = None, role: str | None = None):
    """The user (created with PASSWORD if new), with ``role`` in the tenant if given."""
    session = registry["db.session_factory"]()
    try:
        user = find_user(session, email) or create_user(session, email)
        user.password_hash = _hash()
        if tenant_id is not None:
            add_membership(session, tenant_id, user, role)
        session.commit()
        return user.id
    finally:
        session.close()


def log_in(app, email: str, password: str = PASSWORD, status=302, **extra):
    """Fill and submit the login form; returns the answer to the submit."""
    form = app.get("/login", **extra).forms["login"]
    form["email"], form["password"] = email, password
    return form.submit(status=status, **extra)


@pytest.fixture
def owner(app, registry, tenant):
    """acme's owner, logged in on ``app``."""
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    log_in(app, "owner@acme.test")
    return tenant
