"""``learnerledger users add|token``: the people who may sign in to the web UI, and API tokens."""

from __future__ import annotations

import sys

import click

from learnerledger.cli.options import open_store
from learnerledger.cli.render import Group, line, note

__all__ = ["users"]


@click.group(cls=Group)
def users() -> None:
    """Who may sign in to the web UI (`learnerledger serve`), and tokens for its API."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "viewer"]),
    required=True,
    help="admin: may change things (connect, sync, decide); viewer: sees everything, "
    "changes nothing.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (its first line) instead of asking for it.",
)
@click.pass_context
def add_user(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a user, or give an existing one a new role and password (signing them out).

    The password is kept only as an argon2 hash."""
    from learnerledger.web.auth import Users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"Password for {name}", hide_input=True, confirmation_prompt=True, err=True
        )
    user = Users(open_store(ctx)).add(name, role, password)
    line(f"User {user.name} ({user.role}) can sign in.")


@users.command("token")
@click.argument("name")
@click.pass_context
def token(ctx: click.Context, name: str) -> None:
    """Create an API token for NAME and print it once (send it as `Authorization: Bearer
    TOKEN` to the web UI's /api/ addresses). It has NAME's role and is kept only as a hash."""
    from learnerledger.web.auth import Users

    created = Users(open_store(ctx)).new_token(name)
    note(f"API token for {name} (shown once; keep it like a password):")
    line(created)
