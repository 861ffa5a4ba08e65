"""Two-factor sign-in with TOTP (RFC 6238) and single-use recovery codes.

pyotp does the RFC's arithmetic and builds the ``otpauth://`` URI that
authenticator apps read from the QR code; what is ours is the state: the
secret while enrolling and after, the last time step used (a code works
once), and the recovery codes, stored as SHA-256.

The secret must be read back to check a code, so it cannot be a hash: it
is sealed at rest with the keys that seal webhook signing secrets
(tracee.webhooks.signing_secrets, ``TRACEE_WEBHOOK_KEYS``), and a copy of
the database alone makes no codes. One stored before secrets were sealed
(32 base32 characters; a sealed one is some 140) is read as it is and
sealed the next time it passes a code.
"""

import base64
import hashlib
import secrets
import time

import pyotp
from sqlalchemy import delete, select, update

from tracee.accounts.models import RecoveryCode, User
from tracee.branding.qr import render_qr
from tracee.db import utcnow

ISSUER = "Tracee"
RECOVERY_CODES = 10
STEP = 30
PLAIN_LENGTH = 32  # pyotp.random_base32()'s; a sealed secret is far longer


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def enabled(user: User) -> bool:
    return user.totp_enabled_at is not None


def secret_box(request):
    """What seals the secrets at rest: the SecretBox of ``TRACEE_WEBHOOK_KEYS``."""
    return request.registry["two_factor.sealer"]


def secret(user: User, box) -> str | None:
    """The user's TOTP secret in the clear (``box``: a SecretBox)."""
    stored = user.totp_secret
    if stored is None or len(stored) <= PLAIN_LENGTH:
        return stored
    return box.open(stored)


def _seal_if_plain(user: User, box) -> None:
    if user.totp_secret is not None and len(user.totp_secret) <= PLAIN_LENGTH:
        user.totp_secret = box.seal(user.totp_secret)


def start_enrolment(user: User, box) -> str:
    """The secret to show (kept on the user, sealed, not yet in force); the
    same one until enrolment is confirmed, so a reload shows the same QR code."""
    if user.totp_secret is None or enabled(user):
        plain = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        user.totp_secret = box.seal(plain)
        return plain
    return secret(user, box)


def provisioning_uri(email: str, plain: str) -> str:
    return pyotp.TOTP(plain).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(email: str, plain: str) -> str:
    """The enrolment QR code for the secret ``plain`` as a data: URI (the CSP
    allows images from data:).

    ``__wrapped__`` skips render_qr's LRU cache: a secret has no business
    staying in a process-wide cache after the page is sent.
    """
    png = render_qr.__wrapped__(provisioning_uri(email, plain), 240).png
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _totp_step(user: User, code: str, box, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (this one or a neighbour, for clock
    drift), if it is valid and newer than the last one used."""
    code = _normalise(code)
    if user.totp_secret is None or len(code) != 6 or not code.isdigit():
        return None
    totp, now = pyotp.TOTP(secret(user, box)), time.time() if now is None else now
    for drift in (-1, 0, 1):
        moment = now + drift * STEP
        step = int(moment // STEP)
        if secrets.compare_digest(totp.at(moment), code) and step > (user.totp_last_step or -1):
            return step
    return None


def confirm_enrolment(session, user: User, code: str, box) -> list[str] | None:
    """Turn two-factor on if ``code`` is right: the recovery codes, shown once."""
    step = _totp_step(user, code, box)
    if step is None or enabled(user):
        return None
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    _seal_if_plain(user, box)
    return new_recovery_codes(session, user)


def new_recovery_codes(session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    session.flush()
    return codes


def verify(session, user: User, code: str, box) -> bool:
    """A current TOTP code (once) or an unused recovery code (used up now)."""
    if not enabled(user) or not code:
        return False
    step = _totp_step(user, code, box)
    if step is not None:
        user.totp_last_step = step
        _seal_if_plain(user, box)
        return True
    if len(_normalise(code)) != 16:
        return False
    used = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return used == 1


def recovery_codes_left(session, user: User) -> int:
    return len(session.scalars(select(RecoveryCode.code_hash).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def disable(session, user: User) -> None:
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
