"""``tracee -c CONFIG <command>``: every refusal is one line and exit 2; even an
unexpected error is one line (exit 1), never a traceback.

CONFIG defaults to ``$TRACEE_CONFIG``, then ``development.ini``.
"""

import argparse
import os
import sys

from tracee.cli import commands, idempotency
from tracee.cli.accounts import add_user_commands


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes get one line and exit 2, like every other refusal."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tracee", description="Tracee administration")
    parser.add_argument(
        "-c", "--config",
        default=os.environ.get("TRACEE_CONFIG", "development.ini"),
        help="ini file (default: $TRACEE_CONFIG, then development.ini)",
    )
    areas = parser.add_subparsers(dest="area", required=True, metavar="COMMAND")

    db = areas.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="run the migrations").set_defaults(run=commands.db_upgrade)

    tenant = areas.add_parser("tenant", help="tenants and agencies").add_subparsers(
        dest="action", required=True
    )
    create = tenant.add_parser("create", help="create a tenant")
    create.add_argument("slug")
    create.add_argument("--name", required=True)
    create.add_argument("--parent", help="slug of the agency tenant that manages this one")
    create.add_argument("--domain", help="custom tracking domain, e.g. track.example.com")
    create.add_argument("--color", help="brand colour as #rrggbb")
    create.add_argument("--logo-url", help="https URL of the logo shown on tracking pages")
    create.set_defaults(run=commands.tenant_create)
    tenant.add_parser("list", help="list tenants").set_defaults(run=commands.tenant_list)

    key = areas.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="issue a key; printed once, on the last line")
    key_create.add_argument("slug")
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--rate-limit", help='e.g. "1000/minute" (default: the setting)')
    key_create.set_defaults(run=commands.key_create)
    key_list = key.add_parser("list", help="list a tenant's keys")
    key_list.add_argument("slug")
    key_list.set_defaults(run=commands.key_list)
    key_revoke = key.add_parser("revoke", help="revoke a key by id or by the full key")
    key_revoke.add_argument("slug")
    key_revoke.add_argument("key")
    key_revoke.set_defaults(run=commands.key_revoke)

    stored = areas.add_parser("idempotency", help="stored answers to Idempotency-Key requests")
    stored.add_subparsers(dest="action", required=True).add_parser(
        "purge", help="delete the keys older than tracee.idempotency.keep_hours"
    ).set_defaults(run=idempotency.purge)

    add_user_commands(areas)
    areas.add_parser("demo", help="create the demo tenant, key and tracker").set_defaults(
        run=commands.demo
    )
    areas.add_parser("worker", help="send webhook deliveries until SIGTERM").set_defaults(
        run=commands.worker
    )
    return parser


def refuse_undecodable(args) -> None:
    """Python hands bytes that are not UTF-8 over as lone surrogates ("\\udcff"),
    which no database driver can encode. The config path is left alone: a file
    name may be any bytes."""
    for name, value in vars(args).items():
        if name == "config" or not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise commands.CommandError(
                f"{name.replace('_', '-')} is not UTF-8 text (check the terminal's encoding)"
            ) from None


def say(message: str) -> None:
    # One line, always: driver messages (psycopg's among them) span several.
    print(f"tracee: {' '.join(message.split())}", file=sys.stderr)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        refuse_undecodable(args)
        env = commands.Environment.load(args.config)
        args.run(env, args)
    except commands.CommandError as exc:
        say(str(exc))
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:  # the last resort: even a bug ends in one line, not a traceback
        say(f"unexpected error: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
