"""``tracee idempotency purge``: the keys past ``tracee.idempotency.keep_hours`` go.

The same ``purge_expired`` that ``tracee worker`` runs every hour; this runs it now.
"""

from tracee.cli.commands import CommandError, Environment
from tracee.db import make_session_factory
from tracee.idempotency.store import keep_period, purge_expired


def purge(env: Environment, _args) -> None:
    try:
        keep = keep_period(env.settings)
    except ValueError as exc:
        raise CommandError(f"{env.config_path}: {exc}") from None
    with env.session() as session:  # checks the schema and reaches the database
        purged = purge_expired(make_session_factory(session.get_bind()), keep)
    hours = keep.total_seconds() / 3600
    print(f"purged {purged} idempotency key(s) older than {hours:g} hours")
