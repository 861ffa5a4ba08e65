"""A person changing their own account: address and password. Free of HTTP.

Both ask for the current password, so a browser left logged in is not
enough to take the account over.
"""

from sqlalchemy import select

from tracee.accounts import passwords
from tracee.accounts.models import User
from tracee.accounts.service import AccountError, normalize_email, set_password
from tracee.accounts.tokens import CHANGE_EMAIL, issue_token, use_token, valid_token
from tracee.db import utcnow


class AccountInvalid(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def password_is(user: User, password: str) -> bool:
    return bool(password) and user.password_hash is not None and passwords.verify_password(
        user.password_hash, password)


def _taken(session, email: str) -> bool:
    return session.scalar(select(User.id).where(User.email == email)) is not None


def request_email_change(session, user: User, new_email: str, password: str,
                         password_field: str, email_field: str) -> tuple[str, str]:
    """(token, normalised address): the link for the new address; nothing changes
    until it is used."""
    errors = {}
    try:
        new_email = normalize_email(new_email)
        if new_email == user.email:
            errors[email_field] = "This is your address already."
        elif _taken(session, new_email):
            errors[email_field] = "Another account uses this address."
    except AccountError as exc:
        errors[email_field] = str(exc)
    if not password_is(user, password):
        errors[password_field] = "Your current password is not this."
    if errors:
        raise AccountInvalid(errors)
    return issue_token(session, user, CHANGE_EMAIL, new_email=new_email), new_email


def change_email_pending(session, token: str) -> bool:
    return valid_token(session, token, CHANGE_EMAIL) is not None


def apply_email_change(session, token: str) -> tuple[User, str] | None:
    """(user, old address) once the link from the new address is used; None if
    the link does not work, the address was taken meanwhile, or the password
    changed since it was asked for (the owner's way to cancel it)."""
    row = valid_token(session, token, CHANGE_EMAIL)
    if row is None or _taken(session, row.new_email):
        return None
    changed = session.get(User, row.user_id).password_changed_at
    if changed is not None and changed > row.created_at:
        return None
    new_email = row.new_email
    user = use_token(session, token, CHANGE_EMAIL)
    if user is None:
        return None
    old = user.email
    user.email, user.email_confirmed_at = new_email, utcnow()
    session.flush()
    return user, old


def change_password(user: User, current: str, new: str) -> None:
    errors = {}
    if not password_is(user, current):
        errors["current_password"] = "Your current password is not this."
    else:
        try:
            passwords.check_new_password(new, user.email)
        except passwords.PasswordRejected as exc:
            errors["new_password"] = str(exc)
    if errors:
        raise AccountInvalid(errors)
    set_password(user, new)
