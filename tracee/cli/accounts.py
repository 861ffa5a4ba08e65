"""``tracee user …`` and the demo login: people and their roles in tenants."""

import sys

from tracee.accounts.models import ROLES
from tracee.accounts.passwords import PasswordRejected
from tracee.accounts.service import (
    AccountError,
    add_membership,
    create_user,
    find_user,
    remove_membership,
    set_password,
    tenant_members,
)
from tracee.accounts.tokens import set_password_link
from tracee.cli.commands import CommandError, Environment
from tracee.db import utcnow
from tracee.tenancy.service import find_tenant


def add_user_commands(areas) -> None:
    user = areas.add_parser("user", help="people who log into the dashboard").add_subparsers(
        dest="action", required=True
    )
    create = user.add_parser("create", help="create a user (or add a role) in a tenant")
    create.add_argument("email")
    create.add_argument("--tenant", required=True, help="slug of the tenant")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    create.set_defaults(run=user_create)
    listing = user.add_parser("list", help="a tenant's users and their roles")
    listing.add_argument("slug")
    listing.set_defaults(run=user_list)
    remove = user.add_parser("remove", help="take a user's role in a tenant away")
    remove.add_argument("email")
    remove.add_argument("--tenant", required=True, help="slug of the tenant")
    remove.set_defaults(run=user_remove)


def _read_password() -> str:
    line = sys.stdin.readline()
    if not line:
        raise CommandError("--password-stdin: nothing on standard input")
    return line.rstrip("\r\n")


def user_create(env: Environment, args) -> None:
    password = _read_password() if args.password_stdin else None
    with env.session() as session:
        tenant = find_tenant(session, args.tenant)
        try:
            user = find_user(session, args.email)
            created = user is None
            if created:
                user = create_user(session, args.email, password)
            elif password is not None:
                set_password(user, password)
            add_membership(session, tenant.id, user, args.role)
        except (AccountError, PasswordRejected) as exc:
            raise CommandError(str(exc)) from None
        if created and password is not None:
            user.email_confirmed_at = utcnow()  # an operator vouches for the address
        link = None
        if user.password_hash is None:
            link = set_password_link(session, user, env.settings["tracee.public_url"])
    verb = "created user" if created else "updated user"
    print(f"{verb} {user.email}: {args.role} of {tenant.slug}")
    if link is not None:
        print("No password is set yet. Send this one-time link (valid 7 days) to set one:")
        print(link)


def user_list(env: Environment, args) -> None:
    with env.session() as session:
        tenant = find_tenant(session, args.slug)
        members = tenant_members(session, tenant.id)
        print("email\trole\tconfirmed\tpassword")
        for user, membership in members:
            confirmed = "yes" if user.email_confirmed_at else "no"
            password = "set" if user.password_hash else "not set"
            print(f"{user.email}\t{membership.role}\t{confirmed}\t{password}")


def user_remove(env: Environment, args) -> None:
    with env.session() as session:
        tenant = find_tenant(session, args.tenant)
        user = find_user(session, args.email)
        if user is None:
            raise CommandError(f"no user with email {args.email!r}")
        try:
            remove_membership(session, tenant.id, user)
        except AccountError as exc:
            raise CommandError(str(exc)) from None
    print(f"removed {user.email} from {tenant.slug}")
