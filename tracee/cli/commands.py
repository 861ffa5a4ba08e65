"""What each ``tracee`` command does. Each opens its own transaction."""

import configparser
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from limits.storage import storage_from_string
from pyramid.paster import get_appsettings
from sqlalchemy import make_url, select
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from tracee import migrations
from tracee.accounts.service import ensure_demo_login
from tracee.api.keys import (
    ApiKey,
    KeyNameInvalid,
    check_key_name,
    find_tenant_key,
    issue_key,
    revoke_key,
    tenant_keys,
)
from tracee.cache_epoch import bump_after_commit, cache_epoch_for
from tracee.db import make_engine, make_session_factory
from tracee.ratelimit import is_valid_rate
from tracee.settings import resolve
from tracee.tenancy.models import Tenant
from tracee.tenancy.scope import bind_tenant
from tracee.tenancy.service import TenantError, create_tenant, find_tenant, platform_hosts
from tracee.tracking.models import Tracker
from tracee.tracking.workflow import Actor, apply_action, create_tracker
from tracee.urls import PublicUrls

CLI = Actor("cli")
DEMO_SLUG = "demo"
DEMO_KEY_NAME = "demo key"
MAX_KEY_ID = 2**31 - 1  # api_keys.id is a 32-bit integer on PostgreSQL


class CommandError(Exception):
    pass


@dataclass
class Environment:
    config_path: str
    settings: dict

    @classmethod
    def load(cls, config_path: str) -> "Environment":
        if not Path(config_path).is_file():
            raise CommandError(f"config file {config_path!r} not found (use -c or TRACEE_CONFIG)")
        try:
            # configparser skips a file it cannot open, which would read as empty.
            Path(config_path).open("rb").close()
            settings = resolve(get_appsettings(config_path))
        except OSError as exc:
            raise CommandError(f"cannot read {config_path}: {exc.strerror}") from None
        except (ValueError, LookupError, ImportError, configparser.Error) as exc:
            raise CommandError(f"{config_path}: {exc}") from None
        check_database_url(settings)
        return cls(config_path, settings)

    @property
    def platform_hosts(self) -> frozenset[str]:
        return platform_hosts(self.settings["tracee.public_url"])

    @property
    def url(self) -> str:
        return self.settings["sqlalchemy.url"]

    @contextmanager
    def session(self):
        engine = make_engine(self.settings)
        factory = make_session_factory(engine)
        # A key revoked here is forgotten by the servers' workers at once (tracee.cache_epoch).
        bump_after_commit(factory, cache_epoch_for(
            storage_from_string(self.settings["tracee.ratelimit.storage"])))
        session = factory()
        try:
            with database_errors():
                migrations.check_schema(engine, self.config_path)
                yield session
                session.commit()
        except (migrations.SchemaOutOfDate, TenantError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            session.close()  # rolls back what was not committed
            engine.dispose()


@contextmanager
def database_errors():
    """The database unreachable or saying no, or the migrations missing: one refusal."""
    try:
        yield
    except OperationalError as exc:
        raise CommandError(f"cannot reach the database: {exc.orig}") from None
    except DBAPIError as exc:
        raise CommandError(f"the database refused: {exc.orig}") from None
    except migrations.MigrationsMissing as exc:
        raise CommandError(str(exc)) from None


def check_database_url(settings: dict) -> None:
    """Refuse a database URL SQLAlchemy cannot parse or has no driver for, before
    any command uses it. The URL is not repeated: it may hold a password."""
    source = "DATABASE_URL or sqlalchemy.url"
    try:
        make_engine(settings).dispose()  # loads the dialect and its driver; connects to nothing
    except NoSuchModuleError:
        kind = make_url(settings["sqlalchemy.url"]).drivername
        raise CommandError(f"{source}: no database kind {kind!r} is known") from None
    except ArgumentError:
        raise CommandError(f"{source} is not a database URL (e.g. postgresql://...)") from None
    except ImportError as exc:
        kind = make_url(settings["sqlalchemy.url"]).drivername
        raise CommandError(f"{source}: the driver for {kind!r} is not installed ({exc})") from None


def db_upgrade(env: Environment, _args) -> None:
    with database_errors():
        migrations.upgrade(env.url)
    print("database is up to date")


def tenant_create(env: Environment, args) -> None:
    with env.session() as session:
        tenant = create_tenant(
            session, args.slug, args.name, parent=args.parent, domain=args.domain,
            color=args.color, logo_url=args.logo_url, platform_hosts=env.platform_hosts,
        )
        print(f"created tenant {tenant.slug} (id {tenant.id})")


def tenant_list(env: Environment, _args) -> None:
    with env.session() as session:
        tenants = session.scalars(select(Tenant).order_by(Tenant.slug)).all()
        parents = {t.id: t.slug for t in tenants}
        for t in tenants:
            agency = f" agency={parents[t.parent_id]}" if t.parent_id else ""
            domain = f" domain={t.domain}" if t.domain else ""
            print(f"{t.id}\t{t.slug}\t{t.name}{agency}{domain}")


def key_create(env: Environment, args) -> None:
    if args.rate_limit is not None and not is_valid_rate(args.rate_limit):
        raise CommandError(f"rate limit {args.rate_limit!r} is not like '1000/minute'")
    try:
        name = check_key_name(args.name)
    except KeyNameInvalid as exc:
        raise CommandError(str(exc)) from None
    with env.session() as session:
        tenant = find_tenant(session, args.slug)
        issued = issue_key(session, tenant.id, name, args.rate_limit)
    # Printed only once committed: a key shown for a rolled-back row would never work.
    print(f"created key {issued.record.id} ({issued.record.masked}) for {tenant.slug}.")
    print("Store it now; it will not be shown again:")
    print(issued.secret)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def key_list(env: Environment, args) -> None:
    with env.session() as session:
        tenant = find_tenant(session, args.slug)
        keys = tenant_keys(session, tenant.id)
        print("id\tname\tkey\tcreated\tlast used\trevoked\trate limit")
        for k in keys:
            print(
                f"{k.id}\t{k.name}\t{k.masked}\t{_when(k.created_at)}\t{_when(k.last_used_at)}"
                f"\t{_when(k.revoked_at)}\t{k.rate_limit or 'default'}"
            )


def key_revoke(env: Environment, args) -> None:
    with env.session() as session:
        tenant = find_tenant(session, args.slug)
        key = find_tenant_key(session, tenant.id, args.key)
        if key is None:
            raise CommandError(f"tenant {tenant.slug} has no such key")
        if not revoke_key(key):
            print(f"key {key.id} was already revoked at {_when(key.revoked_at)}")
            return
        print(f"revoked key {key.id} ({key.masked})")


def demo(env: Environment, _args) -> None:
    """A demo tenant with a fresh key and a sample tracker. Safe to run again."""
    urls = PublicUrls(env.settings["tracee.public_url"])
    with env.session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG))
        if tenant is None:
            tenant = create_tenant(session, DEMO_SLUG, "Demo Print Shop", color="#0f766e",
                                   platform_hosts=env.platform_hosts)
        bind_tenant(session, tenant.id)
        tracker = session.scalar(select(Tracker).where(Tracker.number == 1234))
        if tracker is None:
            tracker = create_tracker(
                session, tenant.id, "Order #1234 - Blue Vase", CLI, template="3d-printing"
            )
            apply_action(session, tracker, "3D Printing", "start", CLI)
        # Keys are shown once, so a re-run issues a new one and retires the old.
        previous = session.scalars(
            select(ApiKey).where(
                ApiKey.tenant_id == tenant.id, ApiKey.name == DEMO_KEY_NAME,
                ApiKey.revoked_at.is_(None),
            )
        )
        for old in previous:
            revoke_key(old)
        issued = issue_key(session, tenant.id, DEMO_KEY_NAME)
        login = ensure_demo_login(session, tenant)
    print(f"Demo tenant:  {tenant.name} ({tenant.slug})")
    print(f"Dashboard:    {urls.base}/login  email {login[0]}  password {login[1]}")
    print(f"Tracking URL: {urls.tracking(tracker.tracking_token)}")
    print(f"API tracker:  {urls.api(tracker.id)}")
    print("API key (shown once):")
    print(issued.secret)


def worker(env: Environment, _args) -> None:
    """Send webhook deliveries until SIGTERM or SIGINT (tracee/worker.py)."""
    import logging
    import signal

    from tracee.idempotency.store import keep_period
    from tracee.webhooks.config import WebhookSettings
    from tracee.worker import Worker

    try:
        WebhookSettings.from_settings(env.settings)
        keep_period(env.settings)  # it purges old Idempotency-Key answers too
    except ValueError as exc:
        raise CommandError(f"{env.config_path}: {exc}") from None
    with env.session():
        pass  # the schema check and a reachable database, before the loop starts
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] "
                        "%(message)s")
    loop = Worker(env.settings)
    signal.signal(signal.SIGTERM, loop.stop)
    signal.signal(signal.SIGINT, loop.stop)
    print(f"tracee worker: delivering webhooks ({loop.hooks.concurrency} at a time)",
          flush=True)
    loop.run()
    print("tracee worker: stopped", flush=True)
