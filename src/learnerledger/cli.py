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
from learnerledger.text import count

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
    help="Size: 1 is 600 learners and their legacy contacts and documents.",
)
@click.option(
    "--replace", is_flag=True, help="Delete the organisation's contacts and documents first."
)
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
        f"{report.employers} employers) for {report.people} learners, with "
        f"{report.documents} documents and {report.payments} payments, into {path}."
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


# -- Xero: connect, pull, status ----------------------------------------------------------------
# `connect` and `pull` are shared groups: the student management system's commands
# (`connect wisenet`, `pull learners`) are subcommands of the same groups.

EXIT_PAUSED = 75  # sysexits' EX_TEMPFAIL: a rate limit is spent, run the same command later


@main.group(cls=_Group)
def connect() -> None:
    """Connect learnerledger to Xero or to the student management system."""


@main.group(cls=_Group)
def pull() -> None:
    """Read from a connected system into the local store (incremental after the first run)."""


def _open_store(ctx: click.Context) -> Any:
    from learnerledger.store import open_store

    return open_store(_config(ctx).database_url)


@connect.command("xero")
@click.option(
    "--custom-connection",
    is_flag=True,
    help="Use a custom connection's client credentials: one organisation, no browser.",
)
@click.option("--client-id", required=True, help="The Xero app's client id.")
@click.option(
    "--client-secret",
    envvar="LEARNERLEDGER_XERO_CLIENT_SECRET",
    help="The Xero app's client secret (or env LEARNERLEDGER_XERO_CLIENT_SECRET); "
    "leave it out for an OAuth app that uses PKCE only.",
)
@click.option(
    "--base-url",
    help="Point identity and API at another host, e.g. the Xero sandbox "
    "[setting xero_base_url; default: Xero's real hosts].",
)
@click.option(
    "--tenant",
    help="The organisation to connect (tenant id or name) when the consent grants several.",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Loopback port that receives Xero's redirect; register "
    "http://localhost:PORT/callback as the app's redirect URI.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope to ask for instead of the defaults (repeat for several).",
)
@click.option(
    "--granular-scopes",
    is_flag=True,
    help="Ask for the granular scopes that apps created from 2 March 2026 must use.",
)
@click.option("--no-browser", is_flag=True, help="Print the consent URL; do not open a browser.")
@click.pass_context
def connect_xero(
    ctx: click.Context,
    custom_connection: bool,
    client_id: str,
    client_secret: str | None,
    base_url: str | None,
    tenant: str | None,
    port: int,
    scopes: tuple[str, ...],
    granular_scopes: bool,
    no_browser: bool,
) -> None:
    """Connect a Xero organisation (the standard OAuth2 flow with PKCE, or a custom connection).

    Tokens are stored encrypted. Run it again to reconnect an organisation, or to connect
    another one: commands then take --tenant.
    """
    import webbrowser

    from learnerledger.store import load_secret_box
    from learnerledger.xero.auth import BROAD_SCOPES, GRANULAR_SCOPES, Tenant
    from learnerledger.xero.connect import connect_custom, connect_oauth

    cfg = _config(ctx)
    base = base_url if base_url is not None else str(cfg["xero_base_url"])
    store = _open_store(ctx)
    box = load_secret_box(cfg.home)
    timeout = float(cfg["xero_timeout"])
    if custom_connection:
        if not client_secret:
            raise click.UsageError("A custom connection needs --client-secret.")
        connection = connect_custom(
            store,
            box,
            client_id=client_id,
            client_secret=client_secret,
            base_url=base,
            timeout=timeout,
        )
    else:

        def show(url: str) -> None:
            click.echo("Open this address to let learnerledger access Xero:", err=True)
            click.echo(f"  {url}", err=True)
            if not no_browser:
                webbrowser.open(url)

        def choose(tenants: list[Tenant]) -> Tenant:
            click.echo("The consent granted several organisations:", err=True)
            for i, t in enumerate(tenants, 1):
                click.echo(f"  {i}. {t.name} ({t.tenant_id})", err=True)
            picked = click.prompt(
                "Connect which one", type=click.IntRange(1, len(tenants)), err=True
            )
            return tenants[int(picked) - 1]

        connection = connect_oauth(
            store,
            box,
            client_id=client_id,
            client_secret=client_secret,
            base_url=base,
            scopes=tuple(scopes) or (GRANULAR_SCOPES if granular_scopes else BROAD_SCOPES),
            port=port,
            tenant=tenant,
            open_url=show,
            choose=choose,
            timeout=timeout,
        )
    how = "a custom connection" if connection.auth_mode == "custom_connection" else "OAuth"
    click.echo(f"Connected {connection.name!r} (tenant {connection.tenant_id}) with {how}.")


def _progress_printer(quiet: bool) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """Progress lines on stderr: pages read, and waits on Xero's rate budget."""
    from learnerledger.xero.client import Retrying
    from learnerledger.xero.ratelimit import Waiting

    def on_progress(p: Any) -> None:
        if quiet:
            return
        total = f" of {p.total:,}" if p.total is not None else ""
        pages = (p.detail or {}).get("pages")
        click.echo(f"  {p.stage}: {p.done:,}{total} read, page {pages}", err=True)

    def on_event(event: Any) -> None:
        if isinstance(event, Waiting):
            click.echo(
                f"  waiting {event.seconds:.0f} s for Xero's {event.limit} limit "
                f"({event.organisation}), until {event.until.astimezone():%H:%M:%S}",
                err=True,
            )
        elif isinstance(event, Retrying) and not quiet:
            click.echo(
                f"  {event.request}: {event.reason}; retry {event.attempt} in {event.delay:.1f} s",
                err=True,
            )

    return on_progress, on_event


def _finish_pull(ctx: click.Context, report: Any, as_json: bool) -> None:
    import json

    if as_json:
        click.echo(
            json.dumps(
                {
                    "job": report.job,
                    "organisation": report.organisation,
                    "run_id": report.run_id,
                    "status": report.status,
                    "resumes_at": report.paused.resumes_at.isoformat() if report.paused else None,
                    "counts": report.counts(),
                    "problems": report.problems,
                    "message": report.message,
                }
            )
        )
    else:
        for s in report.streams:
            click.echo(
                f"{report.organisation} {s.stream}: {s.written:,} mirrored, "
                f"{s.unchanged:,} already up to date, {s.rejected:,} unreadable "
                f"({s.pages} pages)."
            )
        click.echo(f"{count(report.calls, 'call')} to Xero.")
    if report.paused is not None:
        click.echo(f"Paused: {report.message}", err=True)
        ctx.exit(EXIT_PAUSED)


@pull.command("contacts")
@click.option("--tenant", help="Organisation (tenant id or name) when several are connected.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")
@click.pass_context
def pull_contacts_command(ctx: click.Context, tenant: str | None, as_json: bool) -> None:
    """Mirror Xero's contacts, archived ones included (only changes after the first run)."""
    from learnerledger.xero.client import open_client
    from learnerledger.xero.mirror import pull_contacts

    store = _open_store(ctx)
    on_progress, on_event = _progress_printer(as_json)
    with open_client(store, _config(ctx), tenant=tenant, on_event=on_event) as client:
        report = pull_contacts(store, client, on_progress=on_progress)
    _finish_pull(ctx, report, as_json)


@pull.command("documents")
@click.option("--tenant", help="Organisation (tenant id or name) when several are connected.")
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only documents dated on or after this day (YYYY-MM-DD).",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only documents dated on or before this day (YYYY-MM-DD).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")
@click.pass_context
def pull_documents_command(
    ctx: click.Context, tenant: str | None, date_from: Any, date_to: Any, as_json: bool
) -> None:
    """Mirror invoices, credit notes, payments, prepayments and overpayments from Xero."""
    from learnerledger.xero.client import open_client
    from learnerledger.xero.mirror import pull_documents

    store = _open_store(ctx)
    on_progress, on_event = _progress_printer(as_json)
    with open_client(store, _config(ctx), tenant=tenant, on_event=on_event) as client:
        report = pull_documents(
            store,
            client,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            on_progress=on_progress,
        )
    _finish_pull(ctx, report, as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON document.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Connections, mirror counts, each organisation's rate budget, cursors and last runs."""
    import json

    from learnerledger.status import collect_status, format_status

    document = collect_status(_open_store(ctx), _config(ctx))
    click.echo(json.dumps(document) if as_json else format_status(document))


# -- the student management system: Wisenet sandbox, connect wisenet, pull/import learners ------


def _wisenet_sandbox_db(ctx: click.Context, db: Path | None) -> Path:
    return db if db is not None else _config(ctx).home / "sandbox" / "wisenet.db"


def _wisenet_sandbox_store(path: Path) -> Any:
    import sqlite3

    from learnerledger.sandbox.wisenet import SandboxStore

    try:
        return SandboxStore(path)
    except (OSError, sqlite3.Error) as exc:
        raise SandboxError(
            f"The sandbox database {path} cannot be opened: {exc}.",
            fix="Give --db a file in a directory you can write to.",
        ) from None


_WISENET_DB_HELP = "The sandbox's SQLite file (default: HOME/sandbox/wisenet.db)."


@sandbox.group("wisenet", cls=_Group, invoke_without_command=True)
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
def sandbox_wisenet(
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
    path = _wisenet_sandbox_db(ctx, db)
    store = _wisenet_sandbox_store(path)
    clock = Clock()
    shown = prepare_keys(store, clock, api_keys)
    app = create_app(store, clock=clock, limits=Limits(per_second_limit, day_limit))
    with store.read() as conn:
        learners = conn.execute("SELECT count(*) FROM learners").fetchone()[0]
    click.echo(f"Wisenet sandbox on http://{host}:{port}  (database {path})", err=True)
    click.echo(f"  API base URL: http://{host}:{port}/v1  ({learners} learners)", err=True)
    for key in shown:
        click.echo(f"  API key: {key}", err=True)
    if not shown:
        click.echo("  API keys: as registered before (give --api-key to add one)", err=True)
    if not learners:
        click.echo("  Empty: run `learnerledger sandbox wisenet seed` to add learners.", err=True)
    serve(app, host, port)


@sandbox_wisenet.command("seed")
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
@click.pass_context
def sandbox_wisenet_seed(
    ctx: click.Context, db: Path | None, seed_value: int, scale: float, replace: bool
) -> None:
    """Fill the sandbox with Demo Training Co's learners, workplaces, positions and invoices."""
    from learnerledger.sandbox.wisenet import SeedConflict, seed_account

    path = _wisenet_sandbox_db(ctx, db)
    store = _wisenet_sandbox_store(path)
    try:
        report = seed_account(store, seed=seed_value, scale=scale, replace=replace)
    except SeedConflict as exc:
        raise SandboxError(str(exc)) from None
    finally:
        store.close()
    click.echo(
        f"Seeded {report.learners} learners ({report.sync_to_xero} flagged Sync to Xero), "
        f"{report.workplaces} workplaces, {report.positions} learner positions and "
        f"{report.invoices} invoices into {path}."
    )


@connect.command("wisenet")
@click.option(
    "--api-key",
    prompt="Wisenet API key",
    hide_input=True,
    envvar="LEARNERLEDGER_WISENET_API_KEY",
    help="The key from Wisenet (LRM > Settings > Integration > API Keys); asked for when not "
    "given [env LEARNERLEDGER_WISENET_API_KEY]. Stored encrypted.",
)
@click.option(
    "--base-url",
    default="https://api.wisenet.co/v1",
    show_default=True,
    help="The API's base URL; the sandbox's is http://127.0.0.1:8002/v1.",
)
@click.option("--no-check", is_flag=True, help="Store the key without trying it first.")
@click.pass_context
def connect_wisenet_command(
    ctx: click.Context, api_key: str, base_url: str, no_check: bool
) -> None:
    """Connect the Wisenet account whose learners go to Xero (one call checks the key)."""
    from learnerledger.sources.wisenet import connect_wisenet, open_client
    from learnerledger.store import load_secret_box

    cfg = _config(ctx)
    store = _open_store(ctx)

    def client(url: str, key: str) -> Any:
        return open_client(url, key, requests_per_second=cfg["wisenet_requests_per_second"])

    connection = connect_wisenet(
        store,
        load_secret_box(cfg.home),
        api_key=api_key,
        base_url=base_url,
        check=not no_check,
        client_factory=client,
    )
    checked = "stored without a check" if no_check else "the key works"
    click.echo(f"Connected Wisenet at {connection.base_url} ({checked}).")


def _phone_region(ctx: click.Context, given: str | None) -> str:
    import phonenumbers

    from learnerledger.errors import ConfigError

    region = str(given or _config(ctx)["phone_region"]).strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        source = "--phone-region" if given else _config(ctx).sources["phone_region"]
        raise ConfigError(
            "phone_region",
            source,
            f"{region!r} is not a country code.",
            fix="Use two letters such as AU or NZ.",
        )
    return region


_PHONE_REGION_HELP = "Country for phone numbers without a country code (setting phone_region)."


@pull.command("learners")
@click.option("--full", is_flag=True, help="Read every flagged learner, not only changes.")
@click.option("--dry-run", is_flag=True, help="Read and compare, but store nothing.")
@click.option("--phone-region", help=_PHONE_REGION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")
@click.pass_context
def pull_learners_command(
    ctx: click.Context, full: bool, dry_run: bool, phone_region: str | None, as_json: bool
) -> None:
    """Read the learners flagged Sync to Xero from Wisenet (only changes after the first run)."""
    import json
    from datetime import timedelta

    from learnerledger.sources.wisenet import (
        PullResult,
        load_connection,
        open_client,
        pull_learners,
        resolve_zone,
    )
    from learnerledger.store import load_secret_box

    cfg = _config(ctx)
    region = _phone_region(ctx, phone_region)
    store = _open_store(ctx)
    connection = load_connection(store, load_secret_box(cfg.home))

    def on_progress(result: PullResult) -> None:
        click.echo(f"  learners: {result.read:,} read, page {result.pages}", err=True)

    with open_client(
        connection.base_url,
        connection.api_key,
        requests_per_second=cfg["wisenet_requests_per_second"],
    ) as client:
        result = pull_learners(
            store,
            client,
            connection_id=connection.id,
            region=region,
            zone=resolve_zone(cfg["wisenet_timezone"]),
            overlap=timedelta(minutes=cfg["wisenet_overlap_minutes"]),
            full=full,
            dry_run=dry_run,
            progress=None if as_json else on_progress,
        )
    if as_json:
        click.echo(json.dumps(result.as_json()))
    else:
        prefix = "Dry run, nothing stored: " if dry_run else ""
        click.echo(prefix + result.message if result.status != "paused" else prefix.strip())
        for skipped in result.skipped:
            click.echo(f"  skipped {skipped['record']}: {skipped['message']}", err=True)
        if result.warnings:
            click.echo(
                f"  {result.warnings} values kept as Wisenet had them (see each learner's "
                "warnings).",
                err=True,
            )
        click.echo(f"{count(result.calls, 'call')} to Wisenet.")
    if result.status == "paused":
        click.echo(f"Paused: {result.message}", err=True)
        ctx.exit(EXIT_PAUSED)


@main.group("import", cls=_Group)
def import_group() -> None:
    """Bring records in from files (a student management system's CSV export)."""


_SHOWN_ON_SCREEN = 200  # rejections listed when a report file holds them all anyway


@import_group.command("learners")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the rejected rows, with their line and the reason, to this CSV file.",
)
@click.option("--dry-run", is_flag=True, help="Check every row but store nothing.")
@click.option("--phone-region", help=_PHONE_REGION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def import_learners_command(
    ctx: click.Context,
    file: Path,
    report: Path | None,
    dry_run: bool,
    phone_region: str | None,
    as_json: bool,
) -> None:
    """Import learners from a CSV export (columns in docs/csv-import.md), keyed by RefInternal."""
    import json

    from learnerledger.sources.csvfile import ImportResult, import_learners

    region = _phone_region(ctx, phone_region)
    store = _open_store(ctx)

    def on_progress(result: ImportResult) -> None:
        click.echo(f"  {result.rows:,} rows read", err=True)

    result = import_learners(
        store,
        file,
        region=region,
        dry_run=dry_run,
        report=report,
        progress=None if as_json else on_progress,
    )
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    limit = _SHOWN_ON_SCREEN if report else None
    for rejection in result.rejected[:limit]:
        ref = f" ({rejection.ref_internal})" if rejection.ref_internal else ""
        for problem in rejection.problems:
            click.echo(f"Rejected line {rejection.line}{ref}, {problem.column}: {problem.message}")
    if limit is not None and len(result.rejected) > limit:
        click.echo(f"... and {len(result.rejected) - limit} more rejected rows in {report}.")
    for warning in result.warnings[:20]:
        click.echo(f"Note line {warning.line} ({warning.ref_internal}): {warning.message}")
    if len(result.warnings) > 20:
        click.echo(f"... and {len(result.warnings) - 20} more notes, kept with each learner.")
    if result.ignored_columns:
        click.echo("Ignored columns (not learner fields): " + ", ".join(result.ignored_columns))
    prefix = "Dry run, nothing stored. " if dry_run else ""
    click.echo(
        f"{prefix}{result.rows:,} rows: {result.inserted:,} new, {result.updated:,} changed, "
        f"{result.unchanged:,} unchanged, {len(result.rejected):,} rejected "
        f"({result.encoding})."
    )
    if report:
        click.echo(f"Rejected rows written to {report}.")


# -- sync ---------------------------------------------------------------------------------------


@main.group(cls=_Group)
def sync() -> None:
    """Change Xero to match the SMS: planned first, journalled, applied exactly once."""


def _mapping(ctx: click.Context) -> Any:
    from learnerledger.domain.contact import ContactMapping, MappingError
    from learnerledger.errors import ConfigError

    cfg = _config(ctx)
    try:
        return ContactMapping.from_settings(
            str(cfg["contact_name_template"]), str(cfg["contact_fields"]).split(",")
        )
    except MappingError as exc:
        name = "contact_fields" if "field" in str(exc) else "contact_name_template"
        raise ConfigError(name, cfg.sources.get(name, "default"), str(exc)) from None


def _print_plan(plan: Any) -> None:
    totals = plan.totals()
    click.echo(
        f"Plan for {plan.organisation} ({plan.mode} mode): "
        + ", ".join(f"{n} {state}" for state, n in totals.items())
        + (f"; {plan.not_flagged} learners not flagged for Xero." if plan.not_flagged else ".")
    )
    updates = [i for i in plan.items if i.state == "update"]
    for item in updates[:20]:
        changed = "; ".join(f"{k}: {v['from']!r} -> {v['to']!r}" for k, v in item.changes.items())
        click.echo(f"  {item.ref_internal} update: {changed}")
    if len(updates) > 20:
        click.echo(f"  ... and {len(updates) - 20} more updates (all in --json)")
    _print_problems(
        [
            {"ref_internal": i.ref_internal, "state": i.state, "message": r}
            for i in plan.items
            if i.state in ("invalid", "conflict")
            for r in i.reasons
        ]
    )
    minutes = plan.seconds / 60
    when = "at once" if plan.seconds == 0 else f"about {minutes:.0f} min inside the rate budget"
    click.echo(f"Applying it costs {plan.calls} API calls ({when}).")
    if plan.day_remaining is not None and plan.calls > plan.day_remaining:
        click.echo(
            f"That is more than the {plan.day_remaining} calls left today: the run will pause "
            "when the day's budget is spent and resume when run again.",
        )


@sync.command("learners")
@click.option(
    "--mode",
    type=click.Choice(["duplicate"]),
    default="duplicate",
    show_default=True,
    help="duplicate: always create the learner's own contact and merge old ones later.",
)
@click.option("--dry-run", is_flag=True, help="Show the plan; send nothing.")
@click.option("--tenant", help="Organisation (tenant id or name) when several are connected.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan or the run as JSON.")
@click.pass_context
def sync_learners_command(
    ctx: click.Context, mode: str, dry_run: bool, tenant: str | None, as_json: bool
) -> None:
    """Give every learner flagged for Xero exactly one contact carrying its RefInternal."""
    import json

    from learnerledger.sync import sync_learners
    from learnerledger.xero.client import open_client

    store = _open_store(ctx)
    mapping = _mapping(ctx)
    bar: Any = None

    def on_progress(p: Any) -> None:
        nonlocal bar
        if as_json:
            return
        if bar is None and p.total:
            bar = click.progressbar(length=p.total, label="Syncing learners", file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(p.done - bar.pos)
            note = f" — {p.note}" if p.note else ""
            bar.label = f"Batches {p.batches_done}/{p.batches_total}{note}"
            bar.render_progress()

    with open_client(store, _config(ctx), tenant=tenant) as client:
        try:
            report = sync_learners(
                store, client, mapping=mapping, mode=mode, dry_run=dry_run, on_progress=on_progress
            )
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(report.plan.as_json() if dry_run else report.as_json()))
    elif dry_run:
        _print_plan(report.plan)
    else:
        click.echo(report.message)
        _print_problems(report.errors)
    if report.paused is not None:
        click.echo(f"Paused: {report.message}", err=True)
        ctx.exit(EXIT_PAUSED)


def _print_problems(errors: list[dict[str, str]], shown: int = 10) -> None:
    """The first few learners per kind of problem; all of them are in --json and the History."""
    by_state: dict[str, list[dict[str, str]]] = {}
    for error in errors:
        by_state.setdefault(error["state"], []).append(error)
    for state, items in by_state.items():
        for error in items[:shown]:
            click.echo(f"  {error['ref_internal']} {state}: {error['message']}")
        if len(items) > shown:
            click.echo(f"  ... and {len(items) - shown} more {state} (all in --json and History)")


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
