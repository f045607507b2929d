"""``learnerledger resync documents``: Xero's invoices, payments and credits back to the
learners in the SMS (Wisenet, or the local store of a CSV source)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import click

from learnerledger.cli.options import (
    dry_run_option,
    get_config,
    json_option,
    open_store,
    tenant_option,
)
from learnerledger.cli.render import Group, line, note, paused, report

if TYPE_CHECKING:
    from learnerledger.jobs import ProgressEvent

__all__ = ["open_wisenet_target", "resync"]

_SHOWN = 10


@click.group(cls=Group)
def resync() -> None:
    """Bring documents from Xero back to the learners in the SMS."""


def open_wisenet_target(ctx: click.Context, store: Any, stack: ExitStack) -> Any:
    """The Wisenet side when a Wisenet connection is stored (else None: a CSV source)."""
    from learnerledger.resync import WisenetTarget
    from learnerledger.sources.wisenet import open_client
    from learnerledger.store import connections, load_secret_box

    if not connections.list_connections(store, "wisenet"):
        return None
    from learnerledger.sources.wisenet import load_connection

    cfg = get_config(ctx)
    connection = load_connection(store, load_secret_box(cfg.home))
    client = stack.enter_context(
        open_client(
            connection.base_url,
            connection.api_key,
            requests_per_second=cfg["wisenet_requests_per_second"],
        )
    )
    return WisenetTarget(client, connection.id, int(cfg["wisenet_day_limit"]))


def _progress(as_json: bool) -> Any:
    if as_json:
        return None

    def on_progress(event: ProgressEvent) -> None:
        if event.stage == "writing" and event.done % 100:
            return
        extra = f" ({event.note})" if event.note and event.stage != "writing" else ""
        note(f"  {event.stage}: {event.done:,}{extra}")

    return on_progress


def _print_report(result: Any) -> None:
    line(result.message)
    if result.unmatched_count:
        line(f"Unmatched ({result.unmatched_count}): documents that belong to no learner:")
        for item in result.unmatched[:_SHOWN]:
            name = item["number"] or item["document_id"]
            line(f"  {item['kind'].replace('_', ' ')} {name} ({item['contact']}): {item['reason']}")
        if result.unmatched_count > _SHOWN:
            line(f"  ... and {result.unmatched_count - _SHOWN} more (all in --json and History)")
    if result.not_representable_count:
        line(
            f"Not representable in Wisenet v1 ({result.not_representable_count}), "
            "handled as the guide says:"
        )
        for item in result.not_representable[:_SHOWN]:
            name = item["number"] or item["document_id"]
            line(f"  {item['ref_internal']} {name}: {item['message']}")
        if result.not_representable_count > _SHOWN:
            line(
                f"  ... and {result.not_representable_count - _SHOWN} more "
                "(all in --json and History)"
            )
    wisenet = result.budget.get("wisenet")
    if result.dry_run and wisenet:
        line(
            f"Writing it takes {wisenet['calls_needed']:,} Wisenet calls; "
            f"{wisenet['day_left']:,} of {wisenet['day_limit']:,} are left today."
        )
        if wisenet["pauses"]:
            line(
                "That is more than is left today: the run will pause when the day's quota is "
                f"spent and carry on when run again after {wisenet['resets_at']}."
            )
    xero = result.budget.get("xero")
    if result.dry_run and xero:
        line(f"Xero: {xero['day_left']:,} of {xero['day_limit']:,} calls are left today.")


@resync.command("documents")
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only documents dated on or after this day (YYYY-MM-DD). Without --from and --to the "
    "first run covers one year before the Xero connection to today, later runs what changed.",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only documents dated on or before this day (YYYY-MM-DD).",
)
@click.option(
    "--learner",
    "learners",
    multiple=True,
    metavar="REF",
    help="Resync only this learner (RefInternal; repeat, or separate with commas); what Wisenet "
    "holds of them is read and put right.",
)
@dry_run_option(
    "Read Xero and say what would be written and whether today's budgets allow it; write "
    "nothing to the SMS."
)
@tenant_option()
@json_option("Print the run's report as JSON.")
@click.pass_context
def resync_documents_command(
    ctx: click.Context,
    date_from: Any,
    date_to: Any,
    learners: tuple[str, ...],
    dry_run: bool,
    tenant: str | None,
    as_json: bool,
) -> None:
    """Write Xero's sales invoices, with their payments and credits, to the learners."""
    from learnerledger.resync import resync_documents
    from learnerledger.xero.client import open_client

    store = open_store(ctx)
    refs = [r.strip() for value in learners for r in value.split(",") if r.strip()]
    with ExitStack() as stack:
        wisenet = open_wisenet_target(ctx, store, stack)
        client = stack.enter_context(open_client(store, get_config(ctx), tenant=tenant))
        result = resync_documents(
            store,
            client,
            wisenet=wisenet,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            learners=refs,
            dry_run=dry_run,
            on_progress=_progress(as_json),
        )
    report(result.as_json(), as_json=as_json, human=lambda: _print_report(result))
    if result.paused is not None:
        paused(ctx, str(result.paused))
