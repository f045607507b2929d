"""The command line: parses input, calls the library, renders output. No business rule lives
here. Every ``LearnerLedgerError`` becomes a one-paragraph message and exit status 1."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from learnerledger import __version__
from learnerledger.config import SETTINGS, Config, load_config
from learnerledger.errors import LearnerLedgerError, SandboxError

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns LearnerLedgerError into a clean message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LearnerLedgerError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


def _config(ctx: click.Context) -> Config:
    root = ctx.find_root()
    cfg = root.meta.get("learnerledger.config")
    if cfg is None:
        params = root.params
        overrides = {s.name: params.get(s.name) for s in SETTINGS}
        cfg = load_config(params.get("config"), overrides=overrides)
        root.meta["learnerledger.config"] = cfg
    return cfg


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="learnerledger")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default: learnerledger.toml in the working directory).",
)
@click.option("--home", help=SETTINGS[0].help + " [env LEARNERLEDGER_HOME]")
@click.option("--database-url", help=SETTINGS[1].help + " [env LEARNERLEDGER_DATABASE_URL]")
def main(config: Path | None, home: str | None, database_url: str | None) -> None:
    """learnerledger keeps a student management system and Xero in step."""


# -- sandbox ------------------------------------------------------------------------------------


@main.group(cls=_Group)
def sandbox() -> None:
    """Local servers that behave like Xero and Wisenet, for demos and rehearsals."""


def _pair(value: str, option: str, *, secret_required: bool = True) -> tuple[str, str | None]:
    client_id, _, secret = value.partition(":")
    if not client_id or (secret_required and not secret):
        raise SandboxError(
            f"{option} {value!r} is not ID:SECRET.",
            fix=f"Write it as {option} my-client-id:my-client-secret.",
        )
    return client_id, (secret or None)


def _sandbox_db(ctx: click.Context, db: Path | None) -> Path:
    return db if db is not None else _config(ctx).home / "sandbox" / "xero.db"


@sandbox.group("xero", cls=_Group, invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sandbox's SQLite file (default: HOME/sandbox/xero.db).",
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="ID:SECRET",
    help="Register a custom-connection app bound to the default organisation.",
)
@click.option(
    "--oauth-client",
    "oauth_clients",
    multiple=True,
    metavar="ID[:SECRET]",
    help="Register an OAuth app for the authorization-code flow (no secret: PKCE).",
)
@click.option(
    "--organisation",
    "organisations",
    multiple=True,
    metavar="NAME",
    help="Add another organisation besides Demo Training Co.",
)
@click.option(
    "--concurrency-limit",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Calls in flight per organisation and app.",
)
@click.option(
    "--minute-limit",
    default=60,
    show_default=True,
    type=click.IntRange(1),
    help="Calls per rolling minute per organisation and app.",
)
@click.option(
    "--day-limit",
    default=5000,
    show_default=True,
    type=click.IntRange(1),
    help="Calls per rolling 24 hours per organisation and app.",
)
@click.option(
    "--app-minute-limit",
    default=10000,
    show_default=True,
    type=click.IntRange(1),
    help="Calls per rolling minute per app, all organisations together.",
)
@click.option(
    "--latency-ms",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Delay every API answer, to rehearse against a slow network.",
)
@click.pass_context
def sandbox_xero(
    ctx: click.Context,
    host: str,
    port: int,
    db: Path | None,
    clients: tuple[str, ...],
    oauth_clients: tuple[str, ...],
    organisations: tuple[str, ...],
    concurrency_limit: int,
    minute_limit: int,
    day_limit: int,
    app_minute_limit: int,
    latency_ms: int,
) -> None:
    """Serve the Xero sandbox (Accounting API, identity, and Xero's web-app actions)."""
    if ctx.invoked_subcommand is not None:
        return
    from learnerledger.sandbox.server import serve
    from learnerledger.sandbox.xero import (
        DEFAULT_TENANT_ID,
        Clock,
        Limits,
        SandboxStore,
        create_app,
        prepare_store,
    )

    path = _sandbox_db(ctx, db)
    store = SandboxStore(path)
    clock = Clock()
    prepare_store(
        store,
        clock,
        clients=[(i, s or "") for i, s in (_pair(c, "--client") for c in clients)],
        oauth_clients=[_pair(c, "--oauth-client", secret_required=False) for c in oauth_clients],
        organisations=list(organisations),
    )
    limits = Limits(concurrency_limit, minute_limit, day_limit, app_minute_limit)
    app = create_app(store, clock=clock, limits=limits, latency_ms=latency_ms)
    click.echo(f"Xero sandbox on http://{host}:{port}  (database {path})", err=True)
    for org in store.organisations():
        default = "  (default)" if org.tenant_id == DEFAULT_TENANT_ID else ""
        click.echo(f"  organisation {org.name!r}: tenant id {org.tenant_id}{default}", err=True)
    click.echo(f"  API base URL: http://{host}:{port}/api.xro/2.0", err=True)
    click.echo(f"  token URL:    http://{host}:{port}/connect/token", err=True)
    click.echo(f"  web app:      http://{host}:{port}/sandbox", err=True)
    serve(app, host, port)


@sandbox_xero.command("seed")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sandbox's SQLite file (default: HOME/sandbox/xero.db).",
)
@click.option(
    "--seed",
    "seed_value",
    default=1,
    show_default=True,
    type=int,
    help="Seed of the generator: the same seed gives the same organisation.",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.001, 1000),
    help="Size: 1 is 600 learners and their legacy contacts.",
)
@click.option("--replace", is_flag=True, help="Delete the organisation's contacts first.")
@click.pass_context
def sandbox_xero_seed(
    ctx: click.Context, db: Path | None, seed_value: int, scale: float, replace: bool
) -> None:
    """Fill the default organisation with a realistic training provider's legacy contacts."""
    from learnerledger.sandbox.xero import Clock, SandboxStore, prepare_store
    from learnerledger.sandbox.xero.seed import SeedConflict, seed_organisation

    path = _sandbox_db(ctx, db)
    store = SandboxStore(path)
    prepare_store(store, Clock())
    try:
        report = seed_organisation(store, seed=seed_value, scale=scale, replace=replace)
    except SeedConflict as exc:
        raise SandboxError(str(exc)) from None
    click.echo(
        f"Seeded {report.contacts} legacy contacts ({report.archived} archived, "
        f"{report.employers} employers) for {report.people} learners into {path}."
    )


@sandbox_xero.command("merge")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sandbox's SQLite file (default: HOME/sandbox/xero.db).",
)
@click.option("--tenant", help="Organisation (tenant id); default: Demo Training Co.")
@click.argument("source_id")
@click.argument("target_id")
@click.pass_context
def sandbox_xero_merge(
    ctx: click.Context, db: Path | None, tenant: str | None, source_id: str, target_id: str
) -> None:
    """Do what Xero's Merge button does: merge SOURCE_ID into TARGET_ID.

    SOURCE_ID is archived and points at TARGET_ID with MergedToContactID.
    """
    from learnerledger.sandbox.xero import DEFAULT_TENANT_ID, Clock, SandboxStore
    from learnerledger.sandbox.xero.webapp import MergeRefused, merge

    path = _sandbox_db(ctx, db)
    if not path.exists():
        raise SandboxError(f"There is no sandbox database at {path}.", fix="Check --db.")
    store = SandboxStore(path)
    clock = Clock()
    try:
        with store.tx() as conn:
            row = merge(
                conn, tenant or DEFAULT_TENANT_ID, source_id, target_id, now_ms=clock.now_ms()
            )
    except MergeRefused as exc:
        raise SandboxError(f"Merge refused: {exc}") from None
    click.echo(f"Merged {row.data.get('Name')!r} ({row.contact_id}) into {row.merged_to}.")


# -- demo ---------------------------------------------------------------------------------------


@main.command()
@click.option("--no-serve", is_flag=True, help="Exit when the flow is done instead of serving.")
@click.option(
    "--port",
    default=8001,
    show_default=True,
    type=int,
    help="Port for the Xero sandbox (a free one is used if it is taken).",
)
@click.pass_context
def demo(ctx: click.Context, no_serve: bool, port: int) -> None:
    """Run the whole flow on freshly seeded sandboxes and print what happened."""
    from learnerledger.demo import run_demo

    run_demo(
        _config(ctx).home / "demo",
        port=port,
        serve=not no_serve,
        echo=lambda line: click.echo(line),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
