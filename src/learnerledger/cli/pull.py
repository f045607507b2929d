"""``learnerledger pull contacts|documents|learners``: read a connected system into the store.

One group for both sides: Xero's contacts and documents, the student management system's
learners. Every pull is incremental after its first run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from learnerledger.cli.options import (
    dry_run_option,
    get_config,
    json_option,
    open_store,
    phone_region_option,
    resolve_phone_region,
    tenant_option,
)
from learnerledger.cli.render import Group, line, note, paused, report
from learnerledger.jobs import ProgressEvent
from learnerledger.text import count

__all__ = ["pull"]


@click.group(cls=Group)
def pull() -> None:
    """Read from a connected system into the local store (incremental after the first run)."""


def _progress_printer(quiet: bool) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """Progress lines on stderr: pages read, and waits on Xero's rate budget."""
    from learnerledger.xero.client import Retrying
    from learnerledger.xero.ratelimit import Waiting

    def on_progress(p: Any) -> None:
        if quiet:
            return
        total = f" of {p.total:,}" if p.total is not None else ""
        note(f"  {p.stage}: {p.done:,}{total} read, page {(p.detail or {}).get('pages')}")

    def on_event(event: Any) -> None:
        if isinstance(event, Waiting):
            note(
                f"  waiting {event.seconds:.0f} s for Xero's {event.limit} limit "
                f"({event.organisation}), until {event.until.astimezone():%H:%M:%S}"
            )
        elif isinstance(event, Retrying) and not quiet:
            note(f"  {event.request}: {event.reason}; retry {event.attempt} in {event.delay:.1f} s")

    return on_progress, on_event


def _finish_pull(ctx: click.Context, run: Any, as_json: bool) -> None:
    def human() -> None:
        for s in run.streams:
            line(
                f"{run.organisation} {s.stream}: {s.written:,} mirrored, "
                f"{s.unchanged:,} already up to date, {s.rejected:,} unreadable "
                f"({count(s.pages, 'page')})."
            )
        line(f"{count(run.calls, 'call')} to Xero.")

    document = {
        "job": run.job,
        "organisation": run.organisation,
        "run_id": run.run_id,
        "status": run.status,
        "resumes_at": run.paused.resumes_at.isoformat() if run.paused else None,
        "counts": run.counts(),
        "problems": run.problems,
        "message": run.message,
    }
    report(document, as_json=as_json, human=human)
    if run.paused is not None:
        paused(ctx, run.message)


@pull.command("contacts")
@tenant_option()
@json_option()
@click.pass_context
def pull_contacts_command(ctx: click.Context, tenant: str | None, as_json: bool) -> None:
    """Mirror Xero's contacts, archived ones included (only changes after the first run)."""
    from learnerledger.xero.client import open_client
    from learnerledger.xero.mirror import pull_contacts

    store = open_store(ctx)
    on_progress, on_event = _progress_printer(as_json)
    with open_client(store, get_config(ctx), tenant=tenant, on_event=on_event) as client:
        run = pull_contacts(store, client, on_progress=on_progress)
    _finish_pull(ctx, run, as_json)


@pull.command("documents")
@tenant_option()
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
@json_option()
@click.pass_context
def pull_documents_command(
    ctx: click.Context, tenant: str | None, date_from: Any, date_to: Any, as_json: bool
) -> None:
    """Mirror invoices, credit notes, payments, prepayments and overpayments from Xero."""
    from learnerledger.xero.client import open_client
    from learnerledger.xero.mirror import pull_documents

    store = open_store(ctx)
    on_progress, on_event = _progress_printer(as_json)
    with open_client(store, get_config(ctx), tenant=tenant, on_event=on_event) as client:
        run = pull_documents(
            store,
            client,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            on_progress=on_progress,
        )
    _finish_pull(ctx, run, as_json)


@pull.command("learners")
@click.option("--full", is_flag=True, help="Read every flagged learner, not only changes.")
@dry_run_option("Read and compare, but store nothing.")
@phone_region_option
@json_option()
@click.pass_context
def pull_learners_command(
    ctx: click.Context, full: bool, dry_run: bool, phone_region: str | None, as_json: bool
) -> None:
    """Read the learners flagged Sync to Xero from Wisenet (only changes after the first run)."""
    from datetime import timedelta

    from learnerledger.sources.wisenet import (
        load_connection,
        open_client,
        pull_learners,
        resolve_zone,
    )
    from learnerledger.store import load_secret_box

    cfg = get_config(ctx)
    region = resolve_phone_region(ctx, phone_region)
    store = open_store(ctx)
    connection = load_connection(store, load_secret_box(cfg.home))

    def on_progress(event: ProgressEvent) -> None:
        pages = (event.detail or {}).get("pages")
        note(f"  learners: {event.done:,} read, page {pages}")

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
            on_progress=None if as_json else on_progress,
        )

    def human() -> None:
        prefix = "Dry run, nothing stored: " if dry_run else ""
        line(prefix + result.message if result.status != "paused" else prefix.strip())
        for skipped in result.skipped:
            note(f"  skipped {skipped['record']}: {skipped['message']}")
        if result.warnings:
            note(
                f"  {count(result.warnings, 'value')} kept as Wisenet had them (see each "
                "learner's warnings)."
            )
        line(f"{count(result.calls, 'call')} to Wisenet.")

    report(result.as_json(), as_json=as_json, human=human)
    if result.status == "paused":
        paused(ctx, result.message)
