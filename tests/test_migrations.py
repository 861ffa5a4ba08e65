"""The migrations build exactly the schema the models describe, on both databases."""

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import tracee.api.keys  # noqa: F401  (tables on Base.metadata)
import tracee.customer_mail.models  # noqa: F401
import tracee.idempotency.models  # noqa: F401
import tracee.tenancy.models  # noqa: F401
import tracee.tracking.models  # noqa: F401
from tracee import migrations
from tracee.db import Base


def test_migrated_schema_matches_the_models(database):
    with database.admin_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_are_at_head(database):
    migrations.check_schema(database.admin_engine)  # raises SchemaOutOfDate if not


def test_upgrade_and_downgrade_round_trip_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "base")
    engine = sa.create_engine(url)
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    migrations.upgrade(url)
    assert "trackers" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_downgrading_past_sealed_two_factor_secrets_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'sealed.sqlite'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (email, totp_secret, created_at) "
                             "VALUES ('ann@acme.test', :sealed, '2026-12-04 00:00:00')"),
                     {"sealed": "gAAAAA" + "x" * 134})
    config = migrations.alembic_config(url)
    with pytest.raises(RuntimeError, match="1 users have a sealed two-factor secret"):
        command.downgrade(config, "0014")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET totp_secret = NULL"))
    command.downgrade(config, "0014")
    totp = next(c for c in sa.inspect(engine).get_columns("users") if c["name"] == "totp_secret")
    assert totp["type"].length == 32
    engine.dispose()


TENANT_TABLES = ("trackers", "tracker_steps", "tracker_events", "workflow_templates",
                 "template_steps", "idempotency_keys", "invitations", "webhook_endpoints",
                 "webhook_attempts", "tenant_themes", "page_templates", "tenant_assets",
                 "mail_subscriptions", "customer_mail_days", "tracker_messages",
                 "tracker_name_suffixes")


def test_tenant_id_leads_every_key_of_tenant_data(database):
    """What lets the tables be distributed by tenant_id later without a redesign."""
    inspector = sa.inspect(database.admin_engine)
    for table in TENANT_TABLES:
        assert inspector.get_pk_constraint(table)["constrained_columns"][0] == "tenant_id", table
        for unique in inspector.get_unique_constraints(table):
            assert "tenant_id" in unique["column_names"], (table, unique)
        for index in inspector.get_indexes(table):
            if index["unique"]:
                assert "tenant_id" in index["column_names"], (table, index)


def test_models_put_tenant_id_first_too():
    for table in TENANT_TABLES:
        assert Base.metadata.tables[table].primary_key.columns.values()[0].name == "tenant_id"


def test_an_agency_finds_its_clients_by_an_index(database):
    """tenants.parent_id is searched on every dashboard page of an agency, and
    by the foreign key's check when a tenant is deleted."""
    indexes = sa.inspect(database.admin_engine).get_indexes("tenants")
    assert ["parent_id"] in [index["column_names"] for index in indexes]
