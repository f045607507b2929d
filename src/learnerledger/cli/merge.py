"""``learnerledger merge plan|apply|verify``: merge each learner's confirmed legacy contacts
into its own contact: through the API where Xero allows, by a worklist for Xero's Merge where it
does not, and checked afterwards."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from learnerledger.cli.options import get_config, json_option, open_store, tenant_option
from learnerledger.cli.render import Group, line, note, paused, report

if TYPE_CHECKING:
    from learnerledger.jobs import ProgressEvent

__all__ = ["merge"]


@click.group(cls=Group)
def merge() -> None:
    """Merge confirmed duplicates into each learner's own contact, the right way round."""


def _mapping(ctx: click.Context) -> Any:
    from learnerledger.domain.contact import ContactMapping

    cfg = get_config(ctx)
    return ContactMapping.from_settings(
        str(cfg["contact_name_template"]), str(cfg["contact_fields"]).split(",")
    )


def _progress(as_json: bool) -> Any:
    shown: dict[str, str] = {}

    def on_progress(p: ProgressEvent) -> None:
        if as_json:
            return
        text = f"{p.stage} {p.done}/{p.total}" if p.total else p.stage
        if p.note:
            text += f" — {p.note}"
        if shown.get("last") != text:
            shown["last"] = text
            note(text)

    return on_progress


def _print_cluster(c: Any) -> None:
    from learnerledger.merge.money import dollars

    target = c.target.name if c.target else "no contact yet"
    line(
        f"{c.ref_internal} ({c.learner}) {c.state}: into {target!r}, outstanding "
        f"{dollars(c.outstanding)}"
    )
    for lp in c.legacy:
        line(f"  {lp.contact.name!r} ({lp.contact.contact_id}): {lp.outcome}")
        for d in lp.documents:
            line(f"      {d.action:7} {d.label} {d.status} {dollars(d.total)}: {d.reason}")
        if lp.reason and lp.outcome == "problem":
            line(f"      {lp.reason}")
    if c.swap is not None:
        line(f"  {c.swap.why}")
    elif c.no_swap:
        line(f"  ({c.no_swap})")
    for reason in c.reasons if c.swap is None else ():
        line(f"  {reason}")
    for call in c.writes():
        line(f"  call: {call}")


@merge.command("plan")
@tenant_option()
@json_option("Print the plan as one JSON document.")
@click.pass_context
def plan_command(ctx: click.Context, tenant: str | None, as_json: bool) -> None:
    """Show, per confirmed cluster, what moves through the API, what needs Xero's Merge, and
    the calls it costs. Writes nothing."""
    from learnerledger.merge import merge_plan
    from learnerledger.xero.client import open_client

    store = open_store(ctx)
    with open_client(store, get_config(ctx), tenant=tenant) as client:
        planned = merge_plan(store, client, mapping=_mapping(ctx), on_progress=_progress(as_json))
    if planned.plan is None:
        paused(ctx, planned.message)
    plan = planned.plan

    def human() -> None:
        line(plan.summary())
        for c in plan.clusters:
            _print_cluster(c)
        line(f"Applying it costs about {plan.calls} API calls.")

    report(plan.as_json(), as_json=as_json, human=human)


def _write(path: Path, text: str, what: str) -> None:
    from learnerledger.errors import LearnerLedgerError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise LearnerLedgerError(
            f"The {what} could not be written to {path}: {exc.strerror or exc}.",
            fix="Give a path in a folder that exists and that you may write to.",
        ) from None
    note(f"Worklist written to {path}.")


@merge.command("apply")
@tenant_option()
@json_option("Print the run's report as one JSON document.")
@click.option(
    "--no-archive",
    is_flag=True,
    help="Leave legacy contacts emptied through the API active instead of archiving them.",
)
@click.option(
    "--worklist-csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the worklist for Xero's Merge to this CSV file.",
)
@click.option(
    "--worklist-html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the worklist as a printable HTML page to this file.",
)
@click.pass_context
def apply_command(
    ctx: click.Context,
    tenant: str | None,
    as_json: bool,
    no_archive: bool,
    worklist_csv: Path | None,
    worklist_html: Path | None,
) -> None:
    """Re-point what the API can move, archive emptied legacy contacts, swap where planned,
    and list the rest as a worklist for Xero's Merge. Journaled, resumable, one run at a time."""
    from learnerledger.merge import merge_apply
    from learnerledger.merge import worklist_csv as to_csv
    from learnerledger.merge import worklist_html as to_html
    from learnerledger.merge.worklist import worklist_lines
    from learnerledger.xero.client import open_client

    store = open_store(ctx)
    with open_client(store, get_config(ctx), tenant=tenant) as client:
        run = merge_apply(
            store,
            client,
            mapping=_mapping(ctx),
            archive=not no_archive,
            on_progress=_progress(as_json),
        )
    if worklist_csv is not None:
        _write(worklist_csv, to_csv(run.worklist), "worklist")
    if worklist_html is not None:
        made = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M")
        _write(
            worklist_html,
            to_html(run.worklist, organisation=run.organisation, generated=made),
            "worklist",
        )

    def human() -> None:
        line(run.message)
        for error in run.errors[:20]:
            line(f"  {error['ref_internal']} {error['code']}: {error['message']}")
        if len(run.errors) > 20:
            line(f"  ... and {len(run.errors) - 20} more (all in --json and the History)")
        for text in worklist_lines(run.worklist):
            line(text)

    report(run.as_json(), as_json=as_json, human=human)
    if run.paused is not None:
        paused(ctx, run.message)


@merge.command("verify")
@tenant_option()
@json_option("Print the verification as one JSON document.")
@click.option(
    "--accept",
    "accept",
    multiple=True,
    metavar="REF",
    help="Record the cluster of this learner as it is now, after checking a difference the "
    "money check reported (repeatable).",
)
@click.pass_context
def verify_command(
    ctx: click.Context, tenant: str | None, as_json: bool, accept: tuple[str, ...]
) -> None:
    """Read every cluster again: merges done (and recorded as absorbed), done the wrong way
    round (with the fix), or still pending; and check that money was conserved."""
    from learnerledger.merge import merge_verify
    from learnerledger.merge.verify import describe
    from learnerledger.merge.worklist import worklist_lines
    from learnerledger.xero.client import open_client

    store = open_store(ctx)
    with open_client(store, get_config(ctx), tenant=tenant) as client:
        run = merge_verify(
            store, client, mapping=_mapping(ctx), accept=accept, on_progress=_progress(as_json)
        )

    def human() -> None:
        line(run.message)
        for c in run.clusters:
            line(f"  {describe(c)}")
            if c.fix:
                line(f"      {c.fix}")
        for text in worklist_lines(run.worklist):
            line(text)

    report(run.as_json(), as_json=as_json, human=human)
    if run.paused is not None:
        paused(ctx, run.message)
