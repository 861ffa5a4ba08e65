"""Passwords: argon2id hashes, and the rules a new password must meet.

The common-password list (``common-passwords.txt.gz``) is Django's
(``django/contrib/auth/common-passwords.txt.gz``, BSD-3-Clause, itself Royce
Williams' list of the 20,000 most common passwords), reduced to the entries
of at least 8 characters, lower-cased: shorter ones fail the length rule first.
"""

import gzip
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1000  # argon2 takes any length; this only bounds the work per attempt

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class PasswordRejected(ValueError):
    pass


@cache
def _common() -> frozenset[str]:
    data = files(__package__).joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_new_password(password: str, email: str | None = None) -> None:
    """Raise PasswordRejected with the reason a person can act on."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common():
        raise PasswordRejected("This password is too common; choose another.")
    if email and lowered in (email.lower(), email.lower().split("@")[0]):
        raise PasswordRejected("Do not use your email address as your password.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)


# Verified against when the email is unknown, so both failures take as long.
DUMMY_HASH = _hasher.hash("not a password anyone has")
