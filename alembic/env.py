"""Alembic environment: the URL comes from the app's settings.

``tracee db upgrade`` passes it in; ``alembic -c development.ini upgrade head``
reads the ini's ``[app:main]`` with the same environment overrides.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

import tracee.accounts.models  # noqa: F401  (registers the tables on Base.metadata)
import tracee.api.keys  # noqa: F401
import tracee.branding.models  # noqa: F401
import tracee.customer_mail.models  # noqa: F401
import tracee.tenancy.models  # noqa: F401
import tracee.tracking.models  # noqa: F401
import tracee.webhooks.models  # noqa: F401
from tracee.db import Base
from tracee.settings import resolve

config = context.config


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    if config.config_file_name:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
        from pyramid.paster import get_appsettings

        return resolve(get_appsettings(config.config_file_name))["sqlalchemy.url"]
    raise RuntimeError("no database URL given to Alembic")


def run_migrations():
    engine = engine_from_config(
        {"sqlalchemy.url": database_url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
