"""Test harness: every test runs on SQLite and on a real PostgreSQL.

PostgreSQL: a fresh database per run (``tracee_test_<random>``), migrated as
its owner, while the app connects as ``tracee_test_app``, a role that is
neither superuser nor table owner, so row-level security really applies.
Without a reachable server those tests are skipped with the reason printed,
unless ``TRACEE_TEST_REQUIRE_POSTGRES=1`` (CI), which makes it a failure.
"""

import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from webtest import TestApp

import tracee
from tracee import migrations
from tracee.api.keys import issue_key
from tracee.tenancy.scope import bind_tenant
from tracee.tenancy.service import create_tenant
from tracee.tracking.workflow import Actor

PG_ADMIN_URL = os.environ.get(
    "TRACEE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "tracee_test_app"
TABLES = (
    "customer_mail_jobs", "customer_mail_days", "mail_subscriptions",
    "message_mails", "tracker_messages",
    "webhook_attempts", "webhook_deliveries", "webhook_endpoints",
    "idempotency_keys", "invitations", "recovery_codes",
    "user_tokens", "user_sessions", "memberships", "users",
    "tracking_links", "tracker_events", "tracker_steps", "trackers",
    "template_steps", "workflow_templates", "api_keys", "tenant_themes", "page_templates",
    "asset_links", "tenant_assets", "tenants",
)


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def pytest_report_header(config):
    lines = ["databases: sqlite, postgresql (" + PG_ADMIN_URL.split("@")[-1] + ")"]
    if not _required("TRACEE_TEST_REQUIRE_POSTGRES"):
        lines.append("PostgreSQL tests are skipped if the server is unreachable "
                     "(set TRACEE_TEST_REQUIRE_POSTGRES=1 to fail instead)")
    return lines


def _unavailable(reason: str, required_by: str):
    if _required(required_by):
        pytest.fail(f"{reason} (required by {required_by})", pytrace=False)
    pytest.skip(reason)


@dataclass
class Database:
    kind: str
    app_url: str  # what the app connects as
    admin_engine: sa.Engine  # owner / superuser, for setup and clean-up only

    def clean(self):
        with self.admin_engine.begin() as conn:
            if self.kind == "postgresql":
                conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for table in TABLES:
                    conn.execute(sa.text(f"DELETE FROM {table}"))


def _sqlite_database(tmp_dir: Path) -> Database:
    url = f"sqlite:///{tmp_dir / 'tracee-test.sqlite'}"
    migrations.upgrade(url)
    return Database("sqlite", url, sa.create_engine(url))


def _postgres_database():
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc.orig}",
                     "TRACEE_TEST_REQUIRE_POSTGRES")
    name = f"tracee_test_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE})
        if not exists:
            conn.execute(sa.text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
    owner_url = sa.make_url(PG_ADMIN_URL).set(database=name)
    migrations.upgrade(owner_url.render_as_string(hide_password=False))
    owner = sa.create_engine(owner_url)
    with owner.begin() as conn:
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
        conn.execute(sa.text(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"))
        conn.execute(sa.text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
    app_url = owner_url.set(username=APP_ROLE, password=None).render_as_string(False)
    return admin, name, Database("postgresql", app_url, owner)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    if request.param == "sqlite":
        db = _sqlite_database(tmp_path_factory.mktemp("sqlite"))
        yield db
        db.admin_engine.dispose()
        return
    admin, name, db = _postgres_database()
    yield db
    db.admin_engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_settings(database: Database, **overrides) -> dict:
    return {
        "sqlalchemy.url": database.app_url,
        "tracee.public_url": "https://tracee.test",
        "tracee.ratelimit.storage": "memory://",
        **overrides,
    }


def make_app(database: Database, **overrides):
    return tracee.main({}, **make_settings(database, **overrides))


@pytest.fixture(scope="session")
def wsgi_app(database):
    return make_app(database)


@pytest.fixture
def registry(wsgi_app):
    return wsgi_app.registry


def _is_address(host) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    """Tests look up no name but localhost: a webhook URL a test (or schemathesis)
    makes up must neither send a query out nor wait on one. Address literals go
    through; a test that needs a name to resolve fakes it on top of this."""
    real = socket.getaddrinfo

    def local_only(host, *args, **kw):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name == "localhost" or _is_address(name):
            return real(host, *args, **kw)
        raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no name ({name})")

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.fixture(autouse=True)
def _clean_state(request):
    yield
    if "database" in request.fixturenames:
        request.getfixturevalue("database").clean()
    if "wsgi_app" in request.fixturenames:
        request.getfixturevalue("wsgi_app").registry["ratelimiter"].reset()


@pytest.fixture
def app(wsgi_app):
    return TestApp(wsgi_app)


@pytest.fixture
def db_session(registry):
    """A session of the app's own engine (the restricted role on PostgreSQL)."""
    session = registry["db.session_factory"]()
    yield session
    session.close()


@dataclass
class TenantHandle:
    id: int
    slug: str
    key: str
    key_id: int

    @property
    def headers(self) -> dict:
        return {"X-API-Key": self.key}


@pytest.fixture
def make_tenant(registry):
    """make_tenant("acme", parent="agency", rate_limit="5/minute") -> TenantHandle."""

    def make(slug, name=None, rate_limit=None, **tenant_kw):
        session = registry["db.session_factory"]()
        try:
            tenant = create_tenant(session, slug, name or slug.title(),
                                   platform_hosts=registry["platform_hosts"], **tenant_kw)
            issued = issue_key(session, tenant.id, "test key", rate_limit)
            session.commit()
            return TenantHandle(tenant.id, slug, issued.secret, issued.record.id)
        finally:
            session.close()

    return make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("acme", "Acme Prints")


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("globex", "Globex Manufacturing")


@pytest.fixture
def tenant_session(registry):
    """tenant_session(tenant_id) -> a session bound to that tenant; closed after the test."""
    sessions = []

    def open_for(tenant_id):
        session = registry["db.session_factory"]()
        bind_tenant(session, tenant_id)
        sessions.append(session)
        return session

    yield open_for
    for session in sessions:
        session.close()


@pytest.fixture
def create(app, tenant):
    """POST a tracker for ``tenant`` and return the JSON body."""

    def create_tracker(name="Order #1234 - Blue Vase", template="3d-printing", **extra):
        body = {"name": name, **extra}
        if template is not None:
            body["template"] = template
        return app.post_json("/api/v1/trackers/", body, headers=tenant.headers, status=201).json

    return create_tracker


TEST_ACTOR = Actor("test")
ARTIFACTS = Path(os.environ.get("TRACEE_TEST_ARTIFACTS", "test-artifacts"))
