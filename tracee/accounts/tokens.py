"""Single-use tokens for links sent by mail (confirm an address, set a password)."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update

from tracee.accounts.models import User, UserToken
from tracee.db import utcnow

CONFIRM_EMAIL, RESET_PASSWORD, CHANGE_EMAIL = "confirm", "reset", "change_email"
SECOND_STEP = "second_step"  # password right, two-factor code still to come
LIFETIMES = {CONFIRM_EMAIL: timedelta(days=3), RESET_PASSWORD: timedelta(hours=1),
             CHANGE_EMAIL: timedelta(days=1), SECOND_STEP: timedelta(minutes=5)}
MAX_TOKEN_LENGTH = 100


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session, user: User, purpose: str, lifetime: timedelta | None = None,
                new_email: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(UserToken(
        token_hash=_hash(token), user_id=user.id, purpose=purpose, created_at=now,
        expires_at=now + (lifetime or LIFETIMES[purpose]), new_email=new_email,
    ))
    session.flush()
    return token


def valid_token(session, token: str, purpose: str) -> UserToken | None:
    """The unexpired, unused token, without using it (to show its form)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.scalar(select(UserToken).where(
        UserToken.token_hash == _hash(token), UserToken.purpose == purpose))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def purge_expired(connection, now=None) -> int:
    """Remove the tokens past their expiry, used or not (a link that old is refused
    either way, as an unknown one is); how many. Every two-factor login leaves one."""
    table = UserToken.__table__
    return connection.execute(delete(table).where(table.c.expires_at < (now or utcnow()))).rowcount


def use_token(session, token: str, purpose: str) -> User | None:
    """The token's user, marking the token used; None if it is not valid.

    The UPDATE only succeeds for an unused token, so two requests racing with
    one link cannot both use it.
    """
    row = valid_token(session, token, purpose)
    if row is None:
        return None
    used = session.execute(
        update(UserToken)
        .where(UserToken.token_hash == row.token_hash, UserToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        return None
    return session.get(User, row.user_id)


def set_password_link(session, user: User, public_url: str) -> str:
    """A one-time link for a person added without a password (``tracee user create``):
    the reset form, valid for a week since the person may not be waiting for it."""
    token = issue_token(session, user, RESET_PASSWORD, timedelta(days=7))
    return f"{public_url}/password/reset/{token}"
