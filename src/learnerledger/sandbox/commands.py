"""``learnerledger sandbox``: serve, seed, merge and restore in the Xero and Wisenet sandboxes.

The commands parse their options, call the sandboxes and print what happened; the sandboxes'
own modules do the work (and the SQL). They import a sandbox only when one of its commands
runs, so that every other command starts without loading the servers. Their default ``--db``
paths live in the learnerledger home, found as every command finds it (``learnerledger.config``
over the main command's ``--config``, ``--home`` and ``--database-url``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from learnerledger.config import config_of
from learnerledger.errors import SandboxError

if TYPE_CHECKING:
    from learnerledger.sandbox.wisenet import SandboxStore as WisenetStore
    from learnerledger.sandbox.xero import SandboxStore
    from learnerledger.sandbox.xero.contacts import ContactRow

__all__ = ["sandbox"]


def _home(ctx: click.Context) -> Path:
    return config_of(ctx).home


@click.group()
def sandbox() -> None:
    """Local servers that behave like Xero and Wisenet, for demos and rehearsals."""


# -- the Xero sandbox ---------------------------------------------------------------------------

_XERO_DB_HELP = "The sandbox's SQLite file (default: HOME/sandbox/xero.db)."


def _pair(value: str, option: str, *, secret_required: bool = True) -> tuple[str, str | None]:
    client_id, _, secret = value.partition(":")
    if not client_id or (secret_required and not secret):
        raise SandboxError(
            f"{option} {value!r} is not ID:SECRET.",
            fix=f"Write it as {option} my-client-id:my-client-secret.",
        )
    return client_id, (secret or None)


def _xero_db(ctx: click.Context, db: Path | None) -> Path:
    return db if db is not None else _home(ctx) / "sandbox" / "xero.db"


@sandbox.group("xero", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_XERO_DB_HELP)
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
def xero(
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

    path = _xero_db(ctx, db)
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


@xero.command("seed")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_XERO_DB_HELP)
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
    help="Size: 1 is 600 learners and their legacy contacts and documents.",
)
@click.option(
    "--replace", is_flag=True, help="Delete the organisation's contacts and documents first."
)
@click.pass_context
def xero_seed(
    ctx: click.Context, db: Path | None, seed_value: int, scale: float, replace: bool
) -> None:
    """Fill the default organisation with a realistic training provider's legacy contacts."""
    from learnerledger.sandbox.xero import Clock, SandboxStore, prepare_store
    from learnerledger.sandbox.xero.seed import SeedConflict, seed_organisation

    path = _xero_db(ctx, db)
    store = SandboxStore(path)
    prepare_store(store, Clock())
    try:
        report = seed_organisation(store, seed=seed_value, scale=scale, replace=replace)
    except SeedConflict as exc:
        raise SandboxError(str(exc)) from None
    click.echo(
        f"Seeded {report.contacts} legacy contacts ({report.archived} archived, "
        f"{report.employers} employers) for {report.people} learners, with "
        f"{report.documents} documents and {report.payments} payments, into {path}."
    )


def _in_contacts_screen(
    ctx: click.Context, db: Path | None, act: Callable[[SandboxStore, int], ContactRow]
) -> ContactRow:
    """Play one of Xero's Contacts-screen actions on the sandbox's file (with or without a
    running server); ``act`` raises MergeRefused with the reason when Xero would refuse."""
    from learnerledger.sandbox.xero import Clock, SandboxStore

    path = _xero_db(ctx, db)
    if not path.exists():
        raise SandboxError(f"There is no sandbox database at {path}.", fix="Check --db.")
    store = SandboxStore(path)
    try:
        return act(store, Clock().now_ms())
    finally:
        store.close()


@xero.command("merge")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_XERO_DB_HELP)
@click.option("--tenant", help="Organisation (tenant id); default: Demo Training Co.")
@click.argument("source_id")
@click.argument("target_id")
@click.pass_context
def xero_merge(
    ctx: click.Context, db: Path | None, tenant: str | None, source_id: str, target_id: str
) -> None:
    """Do what Xero's Merge button does: merge SOURCE_ID into TARGET_ID.

    SOURCE_ID is archived and points at TARGET_ID with MergedToContactID.
    """
    from learnerledger.sandbox.xero import DEFAULT_TENANT_ID
    from learnerledger.sandbox.xero.webapp import MergeRefused, merge_in

    tenant_id = tenant or DEFAULT_TENANT_ID
    try:
        row = _in_contacts_screen(
            ctx, db, lambda store, now: merge_in(store, tenant_id, source_id, target_id, now_ms=now)
        )
    except MergeRefused as exc:
        raise SandboxError(f"Merge refused: {exc}") from None
    click.echo(f"Merged {row.data.get('Name')!r} ({row.contact_id}) into {row.merged_to}.")


@xero.command("restore")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_XERO_DB_HELP)
@click.option("--tenant", help="Organisation (tenant id); default: Demo Training Co.")
@click.argument("contact_id")
@click.pass_context
def xero_restore(ctx: click.Context, db: Path | None, tenant: str | None, contact_id: str) -> None:
    """Do what Xero's Restore does: make the archived contact CONTACT_ID active again."""
    from learnerledger.sandbox.xero import DEFAULT_TENANT_ID
    from learnerledger.sandbox.xero.webapp import MergeRefused, restore_in

    tenant_id = tenant or DEFAULT_TENANT_ID
    try:
        row = _in_contacts_screen(
            ctx, db, lambda store, now: restore_in(store, tenant_id, contact_id, now_ms=now)
        )
    except MergeRefused as exc:
        raise SandboxError(f"Restore refused: {exc}") from None
    click.echo(f"Restored {row.data.get('Name')!r} ({row.contact_id}).")


# -- the Wisenet sandbox ------------------------------------------------------------------------

_WISENET_DB_HELP = "The sandbox's SQLite file (default: HOME/sandbox/wisenet.db)."


def _wisenet_store(ctx: click.Context, db: Path | None) -> tuple[Path, WisenetStore]:
    import sqlite3

    from learnerledger.sandbox.wisenet import SandboxStore

    path = db if db is not None else _home(ctx) / "sandbox" / "wisenet.db"
    try:
        return path, SandboxStore(path)
    except (OSError, sqlite3.Error) as exc:
        raise SandboxError(
            f"The sandbox database {path} cannot be opened: {exc}.",
            fix="Give --db a file in a directory you can write to.",
        ) from None


@sandbox.group("wisenet", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8002, show_default=True, type=int, help="Port to listen on.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_WISENET_DB_HELP)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY[:PLAN]",
    help="Accept this API key; PLAN basic (1,000 calls a day) or full (10,000) sets its day "
    "quota, else --day-limit does. Without any key (given now or before) one is made.",
)
@click.option(
    "--per-second-limit",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Requests per second per key; over it Wisenet answers 429.",
)
@click.option(
    "--day-limit",
    default=10_000,
    show_default=True,
    type=click.IntRange(1),
    help="Calls per key per day (resets 00:00 UTC) for keys without a plan.",
)
@click.pass_context
def wisenet(
    ctx: click.Context,
    host: str,
    port: int,
    db: Path | None,
    api_keys: tuple[str, ...],
    per_second_limit: int,
    day_limit: int,
) -> None:
    """Serve the Wisenet sandbox (API v1 under /v1, x-api-key auth, Wisenet's usage limits)."""
    if ctx.invoked_subcommand is not None:
        return
    from learnerledger.sandbox.server import serve
    from learnerledger.sandbox.wisenet import Clock, Limits, create_app, parse_key, prepare_keys

    for value in api_keys:
        try:
            parse_key(value)
        except ValueError as exc:
            raise SandboxError(f"--api-key {exc}", fix="Write it as KEY or KEY:basic.") from None
    path, store = _wisenet_store(ctx, db)
    clock = Clock()
    shown = prepare_keys(store, clock, api_keys)
    app = create_app(store, clock=clock, limits=Limits(per_second_limit, day_limit))
    learners = store.learner_count()
    click.echo(f"Wisenet sandbox on http://{host}:{port}  (database {path})", err=True)
    click.echo(f"  API base URL: http://{host}:{port}/v1  ({learners} learners)", err=True)
    for key in shown:
        click.echo(f"  API key: {key}", err=True)
    if not shown:
        click.echo("  API keys: as registered before (give --api-key to add one)", err=True)
    if not learners:
        click.echo("  Empty: run `learnerledger sandbox wisenet seed` to add learners.", err=True)
    serve(app, host, port)


@wisenet.command("seed")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_WISENET_DB_HELP)
@click.option(
    "--seed",
    "seed_value",
    default=1,
    show_default=True,
    type=int,
    help="Seed of the generator: the same seed gives the same people as `sandbox xero seed`.",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.001, 1000),
    help="Size: 1 is 600 learners.",
)
@click.option("--replace", is_flag=True, help="Delete the sandbox's learners and records first.")
@click.option(
    "--no-invoices",
    is_flag=True,
    help="Leave out the invoices of an earlier integration, as before a first resync.",
)
@click.pass_context
def wisenet_seed(
    ctx: click.Context,
    db: Path | None,
    seed_value: int,
    scale: float,
    replace: bool,
    no_invoices: bool,
) -> None:
    """Fill the sandbox with Demo Training Co's learners, workplaces, positions and invoices."""
    from learnerledger.sandbox.wisenet import SeedConflict, seed_account

    path, store = _wisenet_store(ctx, db)
    try:
        report = seed_account(
            store, seed=seed_value, scale=scale, replace=replace, invoices=not no_invoices
        )
    except SeedConflict as exc:
        raise SandboxError(str(exc)) from None
    finally:
        store.close()
    click.echo(
        f"Seeded {report.learners} learners ({report.sync_to_xero} flagged Sync to Xero), "
        f"{report.workplaces} workplaces, {report.positions} learner positions and "
        f"{report.invoices} invoices into {path}."
    )
