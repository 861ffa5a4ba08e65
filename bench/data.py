"""The benchmark's own PostgreSQL database: created fresh, loaded set-based, dropped at the end.

Like the test harness, the schema is migrated as the owner (here the
``postgres`` superuser) while both servers connect as ``tracee_bench_app``,
a role that is neither superuser nor table owner, so row-level security is
really in force during the measurements.

Data is loaded with ``INSERT ... SELECT generate_series`` as the superuser,
with ``session_replication_role = replica`` so foreign-key triggers do not
fire row by row (the rows are consistent by construction). That also turns
off the trigger that writes a name's search rows; the search database gets
them from ``index_names``. The API is never used for loading; it would take
hours at a million trackers.
"""

import os
import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracee import migrations
from tracee.api.keys import issue_key
from tracee.tracking.builtin_templates import BUILTIN_TEMPLATES

ADMIN_URL = os.environ.get(
    "TRACEE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
APP_ROLE = "tracee_bench_app"
TENANTS = 1000
AGENCIES = 20  # tenants 1..20 are agencies; every other tenant is a client of one
TEMPLATE = "3d-printing"
# The benchmark keys' raised limit (issued like `tracee key create --rate-limit`):
# the limiter is consulted on every request, as in production, but never refuses.
BENCH_RATE = "1000000/minute"
BASE_TIME = "2026-11-01 00:00:00+00"


@dataclass
class BenchDatabase:
    name: str
    owner_dsn: str  # libpq form, for psycopg and the migrations
    app_dsn: str  # what both servers connect as

    @property
    def owner_sqlalchemy_url(self) -> str:
        return self.owner_dsn.replace("postgresql://", "postgresql+psycopg://", 1)


def _with_database(url: str, name: str, user: str | None = None) -> str:
    parsed = sa.make_url(url).set(database=name)
    if user is not None:
        parsed = parsed.set(username=user, password=None)
    return parsed.render_as_string(hide_password=False)


def create_database() -> BenchDatabase:
    name = f"tracee_bench_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
        if role is None:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
    db = BenchDatabase(
        name, _with_database(ADMIN_URL, name), _with_database(ADMIN_URL, name, APP_ROLE)
    )
    migrations.upgrade(db.owner_sqlalchemy_url)
    with psycopg.connect(db.owner_dsn, autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
        conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"
        )
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    return db


def drop_database(db: BenchDatabase) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


def _steps_values() -> str:
    steps = BUILTIN_TEMPLATES[TEMPLATE].steps
    return ", ".join(
        f"({i}, '{s.name}', {'true' if s.visible else 'false'})" for i, s in enumerate(steps, 1)
    )


def load_tenants(db: BenchDatabase) -> None:
    """1,000 tenants: 20 agencies and their clients, some with a logo or a colour of their own."""
    with psycopg.connect(db.owner_dsn) as conn:
        conn.execute(
            """
            INSERT INTO tenants (id, slug, name, parent_id, logo_url, brand_color,
                                 tracker_seq, created_at)
            SELECT g, 'tenant-' || g, 'Tenant ' || g,
                   CASE WHEN g > %(agencies)s THEN 1 + g %% %(agencies)s END,
                   CASE WHEN g %% 3 = 0 THEN 'https://cdn.example.com/logo-' || g || '.png' END,
                   CASE WHEN g %% 2 = 0 THEN '#0f766e' END,
                   0, %(base)s::timestamptz
            FROM generate_series(1, %(tenants)s::int) g
            """,
            {"tenants": TENANTS, "agencies": AGENCIES, "base": BASE_TIME},
        )
        conn.execute("SELECT setval('tenants_id_seq', %s)", (TENANTS,))


BENCH_NAME = "'Order #' || (1000 + i) || ' - Bench item'"
# Names that differ as customers' orders do: an item and a word of the
# customer's (8 hex digits), so a search for that word finds one order or a few.
SEARCH_NAME = ("'Order #' || (1000 + i) || ' - ' || (ARRAY['Blue Vase', 'Chess Set', "
               "'Lamp Shade', 'Phone Stand', 'Gear Box', 'Desk Tidy', 'Plant Pot', "
               "'Key Ring'])[1 + i %% 8] || ' for ' || substr(md5(t || '-' || i), 1, 8)")


def search_word(tenant_id: int, tracker_id: int) -> str:
    """The customer's word in the name of ``tracker_id`` as SEARCH_NAME wrote it."""
    import hashlib

    return hashlib.md5(f"{tenant_id}-{tracker_id}".encode()).hexdigest()[:8]


def load_trackers(db: BenchDatabase, first: int, last: int, tenants: tuple[int, int] = (1, TENANTS),
                  name_sql: str = BENCH_NAME) -> None:
    """Trackers ``first..last`` of every tenant in ``tenants`` (first, last), each with
    its steps, link and first event (not their name search rows: index_names).

    Progress varies with the id: tracker i has completed ``i % 7`` steps and
    started the next; every seventh tracker is finished. The tables are
    filled by parallel statements (foreign-key triggers are off, so order
    does not matter), which halves the wall time of the million-row load.
    """
    # i outer, tenant inner: rows land interleaved across tenants, as they
    # would when created over time, not clustered by tenant.
    grid = ("FROM generate_series(%(first)s::int, %(last)s::int) i "
            "CROSS JOIN generate_series(%(tenant_first)s::int, %(tenant_last)s::int) t")
    created = "%(base)s::timestamptz + make_interval(mins => i)"
    trackers = f"""
        INSERT INTO trackers (tenant_id, id, number, name, template_slug, created_at,
                              updated_at, completed_at, event_seq)
        SELECT t, i, 1000 + i, {name_sql}, %(template)s,
               {created}, {created} + interval '1 hour',
               CASE WHEN i %% 7 = 6 THEN {created} + interval '1 hour' END, 1
        {grid}"""
    steps = f"""
        INSERT INTO tracker_steps (tenant_id, tracker_id, position, name, visible,
                                   started_at, completed_at)
        SELECT t, i, s.position, s.name, s.visible,
               CASE WHEN s.position <= i %% 7 + 1
                    THEN {created} + make_interval(mins => s.position) END,
               CASE WHEN s.position <= i %% 7
                    THEN {created} + make_interval(mins => s.position, secs => 30) END
        {grid} CROSS JOIN (VALUES {_steps_values()}) AS s(position, name, visible)"""
    links = f"""
        INSERT INTO tracking_links (token, tenant_id, tracker_id)
        SELECT gen_random_uuid(), t, i {grid}"""
    events = f"""
        INSERT INTO tracker_events (tenant_id, tracker_id, seq, type, process, actor, created_at)
        SELECT t, i, 1, 'tracker.created', NULL, 'bench', {created} {grid}"""
    middle = (first + last) // 2
    jobs = [(trackers, first, last), (links, first, last), (events, first, last),
            (steps, first, middle), (steps, middle + 1, last)]

    def run(job):
        statement, low, high = job
        if low > high:
            return
        with psycopg.connect(db.owner_dsn) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(statement, {"tenant_first": tenants[0], "tenant_last": tenants[1],
                                     "first": low, "last": high,
                                     "base": BASE_TIME, "template": TEMPLATE})

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(run, jobs))
    with psycopg.connect(db.owner_dsn, autocommit=True) as conn:
        conn.execute("UPDATE tenants SET tracker_seq = greatest(tracker_seq, %s) "
                     "WHERE id BETWEEN %s AND %s", (last, *tenants))
        # Settle the load before anything is measured, as pgbench does: VACUUM
        # so autovacuum does not start on millions of fresh rows mid-run, and
        # CHECKPOINT so the checkpoint the load's WAL set off is not spread
        # over the measurements (see checkpoint()).
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def index_names(db: BenchDatabase) -> None:
    """The rows of ``tracker_name_suffixes`` that the app's trigger (off during
    the load) writes for every tracker loaded, by migration 0007's rule.

    Only the search database needs them: nothing searches the others, and at
    a million trackers they would be some 30 million rows. Built as an index
    is after a bulk load: rows first, then the key, sorted once.
    """
    with psycopg.connect(db.owner_dsn) as conn:
        conn.execute("ALTER TABLE tracker_name_suffixes DROP CONSTRAINT pk_tracker_name_suffixes")
        conn.execute("""
            INSERT INTO tracker_name_suffixes (tenant_id, suffix, tracker_id)
            SELECT DISTINCT tenant_id, substr(lower(name), p, 12), id
            FROM trackers, generate_series(1, length(lower(name))) p
            WHERE substr(lower(name), p, 1) <> ' '""")
        conn.execute("ALTER TABLE tracker_name_suffixes ADD CONSTRAINT pk_tracker_name_suffixes "
                     "PRIMARY KEY (tenant_id, suffix, tracker_id)")
    with psycopg.connect(db.owner_dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) tracker_name_suffixes")
        conn.execute("CHECKPOINT")


def checkpoint() -> None:
    """Flush dirty pages now. Run before each endpoint's rounds: a checkpoint
    restarts PostgreSQL's five-minute timer, so none (minutes of spread-out
    writes, full-page images for the pages written after it) starts inside
    the rounds of one side and not the other's."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def issue_keys(db: BenchDatabase) -> dict[int, str]:
    """One key per tenant with the raised rate limit, issued as the app issues them."""
    engine = sa.create_engine(db.owner_sqlalchemy_url)
    try:
        with Session(engine) as session:
            keys = {
                tenant_id: issue_key(session, tenant_id, "bench", BENCH_RATE).secret
                for tenant_id in range(1, TENANTS + 1)
            }
            session.commit()
    finally:
        engine.dispose()
    return keys


def sample_links(db: BenchDatabase, count: int, seed: int) -> list[tuple[str, int, int]]:
    """About ``count`` random (token, tenant_id, tracker_id) rows; the same for a given seed."""
    with psycopg.connect(db.owner_dsn) as conn:
        total = conn.execute("SELECT count(*) FROM tracking_links").fetchone()[0]
        percent = min(100.0, 100.0 * count * 1.2 / max(total, 1))
        rows = conn.execute(
            "SELECT token::text, tenant_id, tracker_id FROM tracking_links "
            "TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s) ORDER BY tenant_id, tracker_id",
            (percent, seed),
        ).fetchall()
    random.Random(seed).shuffle(rows)
    return rows[:count]
