"""Server-side, revocable dashboard sessions.

The cookie carries a random token; the server keeps a SHA-256 of it with the
user, the session's CSRF token and two times: a session ends after
``tracee.session.idle_seconds`` without a request, and after
``tracee.session.max_age_seconds`` whatever happens. The store is the
database (``tracee.session.store = database``, development and tests) or
Redis (``redis``: the ``REDIS_URL`` that also holds the rate limits).

Only the dashboard reads the cookie: ``request.login`` is None everywhere
else without looking, so the API and the public pages never touch a session.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update

from tracee.accounts.models import User, UserSession
from tracee.accounts.service import TenantRole, memberships_of_user
from tracee.db import utcnow

COOKIE = "tracee_session"
# Paths that may read the session cookie; the API and public pages are not among them.
DASHBOARD_PREFIXES = (
    "/dashboard", "/login", "/logout", "/signup", "/password", "/invitations", "/account",
)
# last_seen_at is written at most this often, so reading a page stays a read.
TOUCH_RESOLUTION = timedelta(minutes=1)


@dataclass
class SessionRecord:
    key_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, idle: timedelta, max_age: timedelta):
        self.idle, self.max_age = idle, max_age

    def start(self, db, user_id: int) -> tuple[str, SessionRecord]:
        """A new session with a fresh token, never one the browser brought."""
        token, now = secrets.token_urlsafe(32), utcnow()
        record = SessionRecord(_hash(token), user_id, secrets.token_urlsafe(32), now, now)
        self._save(db, record)
        return token, record

    def load(self, db, token: str) -> SessionRecord | None:
        if not token or len(token) > 100:
            return None
        record = self._load(db, _hash(token))
        if record is None:
            return None
        now = utcnow()
        if now - record.last_seen_at > self.idle or now - record.created_at > self.max_age:
            self._end(db, record.key_hash)
            return None
        if now - record.last_seen_at >= TOUCH_RESOLUTION:
            record.last_seen_at = now
            self._touch(db, record)
        return record

    def end(self, db, key_hash: str) -> None:
        self._end(db, key_hash)

    def end_others(self, db, user_id: int, keep: str | None = None) -> None:
        """End every session of the user (but ``keep``): after a password change."""
        self._end_others(db, user_id, keep)

    def purge_ended(self, connection, now: datetime | None = None) -> int:
        """Remove the sessions that have ended; how many. Redis expires its own."""
        return 0


class DatabaseSessions(SessionStore):
    _table = UserSession.__table__

    def _save(self, db, record):
        db.connection().execute(self._table.insert().values(**vars(record)))

    def _load(self, db, key_hash):
        row = db.connection().execute(
            select(self._table).where(self._table.c.key_hash == key_hash)
        ).first()
        return SessionRecord(**row._mapping) if row else None

    def _touch(self, db, record):
        db.connection().execute(
            update(self._table).where(self._table.c.key_hash == record.key_hash)
            .values(last_seen_at=record.last_seen_at)
        )

    def _end(self, db, key_hash):
        db.connection().execute(delete(self._table).where(self._table.c.key_hash == key_hash))

    def _end_others(self, db, user_id, keep):
        statement = delete(self._table).where(self._table.c.user_id == user_id)
        if keep is not None:
            statement = statement.where(self._table.c.key_hash != keep)
        db.connection().execute(statement)

    def purge_ended(self, connection, now: datetime | None = None) -> int:
        # load() refuses these already, but deletes only the ones a browser brings back.
        now = now or utcnow()
        table = self._table
        return connection.execute(delete(table).where(or_(
            table.c.last_seen_at < now - self.idle, table.c.created_at < now - self.max_age,
        ))).rowcount


class RedisSessions(SessionStore):
    """One key per session, expiring when idle; one set per user to end them all."""

    def __init__(self, url: str, idle: timedelta, max_age: timedelta):
        super().__init__(idle, max_age)
        import redis

        self.redis = redis.Redis.from_url(url)

    def _ttl(self, record) -> int:
        until_idle = self.idle.total_seconds()
        until_max = (record.created_at + self.max_age - utcnow()).total_seconds()
        return max(1, int(min(until_idle, until_max)))

    def _save(self, db, record):
        value = json.dumps({
            "user_id": record.user_id, "csrf_token": record.csrf_token,
            "created_at": record.created_at.timestamp(),
            "last_seen_at": record.last_seen_at.timestamp(),
        })
        pipe = self.redis.pipeline()
        pipe.set(f"tracee:session:{record.key_hash}", value, ex=self._ttl(record))
        pipe.sadd(f"tracee:user-sessions:{record.user_id}", record.key_hash)
        pipe.expire(f"tracee:user-sessions:{record.user_id}", int(self.max_age.total_seconds()))
        pipe.execute()

    def _load(self, db, key_hash):
        value = self.redis.get(f"tracee:session:{key_hash}")
        if value is None:
            return None
        data = json.loads(value)
        return SessionRecord(
            key_hash, data["user_id"], data["csrf_token"],
            datetime.fromtimestamp(data["created_at"], UTC),
            datetime.fromtimestamp(data["last_seen_at"], UTC),
        )

    _touch = _save

    def _end(self, db, key_hash):
        self.redis.delete(f"tracee:session:{key_hash}")

    def _end_others(self, db, user_id, keep):
        members = f"tracee:user-sessions:{user_id}"
        hashes = [h.decode() for h in self.redis.smembers(members)]
        ended = [h for h in hashes if h != keep]
        if ended:
            self.redis.delete(*(f"tracee:session:{h}" for h in ended))
            self.redis.srem(members, *ended)


@dataclass
class Login:
    """Who is at the dashboard: the user, their session and their tenants."""

    user: User
    session: SessionRecord
    memberships: list[TenantRole]

    def role_in(self, tenant_id: int) -> str | None:
        return next((m.role for m in self.memberships if m.tenant_id == tenant_id), None)


def in_dashboard(request) -> bool:
    return request.environ.get("PATH_INFO", "").startswith(DASHBOARD_PREFIXES)


def current_login(request) -> Login | None:
    if not in_dashboard(request):
        return None
    store = request.registry["sessions"]
    record = store.load(request.db, request.cookies.get(COOKIE, ""))
    if record is None:
        return None
    user = request.db.get(User, record.user_id)
    if user is None:
        return None
    return Login(user, record, memberships_of_user(request.db, user.id))


def start_session(request, response, user: User) -> SessionRecord:
    """Log ``user`` in: a fresh session (the one the browser brought ends)."""
    store = request.registry["sessions"]
    old = request.cookies.get(COOKIE)
    if old:
        store.end(request.db, _hash(old))
    token, record = store.start(request.db, user.id)
    response.set_cookie(
        COOKIE, token, path="/", httponly=True, samesite="Lax",
        secure=request.scheme == "https", max_age=int(store.max_age.total_seconds()),
    )
    return record


def end_session(request, response) -> None:
    login = request.login
    if login is not None:
        request.registry["sessions"].end(request.db, login.session.key_hash)
    response.delete_cookie(COOKIE, path="/")


def make_store(settings: dict) -> SessionStore:
    idle = timedelta(seconds=int(settings.get("tracee.session.idle_seconds", 7200)))
    max_age = timedelta(seconds=int(settings.get("tracee.session.max_age_seconds", 43200)))
    kind = settings.get("tracee.session.store", "database")
    if kind == "redis":
        return RedisSessions(settings["tracee.ratelimit.storage"], idle, max_age)
    if kind != "database":
        raise ValueError(f"tracee.session.store must be database or redis, not {kind!r}")
    return DatabaseSessions(idle, max_age)


def includeme(config):
    config.registry["sessions"] = make_store(config.get_settings())
    config.add_request_method(current_login, "login", reify=True)
