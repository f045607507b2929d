"""``learnerledger report reconcile``: Xero against the SMS, learner by learner."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from typing import Any

import click

from learnerledger.cli.options import get_config, open_store, tenant_option
from learnerledger.cli.render import Group, line, paused

__all__ = ["report_group"]

_SHOWN = 20


@click.group("report", cls=Group)
def report_group() -> None:
    """Reports that compare Xero with the SMS."""


def _human(result: Any) -> None:
    line(f"Reconciliation of {result.organisation!r} with the SMS ({result.sms}): {result.message}")
    if not result.mismatches:
        line("Both sides agree for every learner.")
        return
    differing = {m.ref_internal for m in result.mismatches}
    for learner in result.learners():
        if learner["ref_internal"] in differing:
            line(
                f"  {learner['ref_internal']}: Xero {learner['xero_outstanding']} outstanding in "
                f"{learner['xero_documents']} documents, SMS {learner['sms_outstanding']} in "
                f"{learner['sms_documents']}"
            )
    for mismatch in result.mismatches[:_SHOWN]:
        name = mismatch.number or mismatch.document_id
        line(
            f"  {mismatch.ref_internal} {name} {mismatch.field}: Xero {mismatch.xero}, "
            f"SMS {mismatch.sms} ({mismatch.cause}). {mismatch.fix}"
        )
    if len(result.mismatches) > _SHOWN:
        line(f"  ... and {len(result.mismatches) - _SHOWN} more (all in --json and --csv)")


@report_group.command("reconcile")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the reconciliation as one JSON document."
)
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per learner.")
@tenant_option()
@click.pass_context
def reconcile_command(ctx: click.Context, as_json: bool, as_csv: bool, tenant: str | None) -> None:
    """Per learner, Xero's outstanding total and documents against the SMS, with every
    mismatch and its likely cause."""
    from learnerledger.cli.resync import open_wisenet_target
    from learnerledger.resync import reconcile
    from learnerledger.resync.reconcile import reconciliation_csv
    from learnerledger.xero.client import open_client

    if as_json and as_csv:
        raise click.UsageError("Choose one of --json and --csv.")
    store = open_store(ctx)
    with ExitStack() as stack:
        wisenet = open_wisenet_target(ctx, store, stack)
        client = stack.enter_context(open_client(store, get_config(ctx), tenant=tenant))
        result = reconcile(store, client, wisenet=wisenet)
    if result.paused is not None:
        paused(ctx, result.message)
    if as_json:
        click.echo(json.dumps(result.as_json()))
    elif as_csv:
        sys.stdout.write(reconciliation_csv(result))
    else:
        _human(result)
