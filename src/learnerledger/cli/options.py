"""Options shared by several commands, declared once (sqlite-utils' ``cli.py`` does the same),
and the settings the global ones resolve to.

The global options are generated from the settings table: a setting declared with
``flag=True`` gets ``--its-name``, its help and its environment variable from that one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from learnerledger.config import SETTINGS, Config, config_of, setting

__all__ = [
    "dry_run_option",
    "get_config",
    "global_options",
    "json_option",
    "open_store",
    "phone_region_option",
    "resolve_phone_region",
    "tenant_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def global_options(f: F) -> F:
    """``--config`` and one option per flag-able setting, in the table's order."""
    for s in reversed([s for s in SETTINGS if s.flag]):
        f = click.option(s.option, s.name, help=f"{s.help} [env {s.env}]")(f)
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Settings file (default: learnerledger.toml in the working directory).",
    )(f)


def json_option(help: str = "Print the run's report as JSON.") -> Callable[[F], F]:
    """``--json``, passed as ``as_json``: one JSON document on stdout instead of the report."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def dry_run_option(help: str) -> Callable[[F], F]:
    """``--dry-run``: do everything but write; ``help`` says what that means for the command."""
    return click.option("--dry-run", is_flag=True, help=help)


def tenant_option(
    help: str = "Organisation (tenant id or name) when several are connected.",
) -> Callable[[F], F]:
    """``--tenant``: which connected Xero organisation."""
    return click.option("--tenant", help=help)


phone_region_option = click.option(
    "--phone-region",
    help="Country for phone numbers without a country code (setting phone_region).",
)


def get_config(ctx: click.Context) -> Config:
    """The settings, loaded (and checked) once per invocation from the global options."""
    return config_of(ctx)


def open_store(ctx: click.Context) -> Any:
    from learnerledger.store import open_store

    return open_store(get_config(ctx).database_url)


def resolve_phone_region(ctx: click.Context, given: str | None) -> str:
    """``--phone-region`` when given (checked like the setting), else the setting."""
    if given:
        return str(setting("phone_region").parse(given, "--phone-region"))
    return str(get_config(ctx)["phone_region"])
