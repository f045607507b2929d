"""``learnerledger sync learners``: give every learner flagged for Xero exactly one contact."""

from __future__ import annotations

import sys
from typing import Any

import click

from learnerledger.cli.options import (
    dry_run_option,
    get_config,
    json_option,
    open_store,
    tenant_option,
)
from learnerledger.cli.render import Group, line, paused, report
from learnerledger.jobs import ProgressEvent

__all__ = ["sync"]


@click.group(cls=Group)
def sync() -> None:
    """Change Xero to match the SMS: planned first, journalled, applied exactly once."""


def _mapping(ctx: click.Context) -> Any:
    from learnerledger.domain.contact import ContactMapping

    # Both settings were checked when the settings were loaded, so this cannot fail.
    cfg = get_config(ctx)
    return ContactMapping.from_settings(
        str(cfg["contact_name_template"]), str(cfg["contact_fields"]).split(",")
    )


def _print_plan(plan: Any) -> None:
    totals = plan.totals()
    line(
        f"Plan for {plan.organisation} ({plan.mode} mode): "
        + ", ".join(f"{n} {state}" for state, n in totals.items())
        + (f"; {plan.not_flagged} learners not flagged for Xero." if plan.not_flagged else ".")
    )
    updates = [i for i in plan.items if i.state == "update"]
    for item in updates[:20]:
        line(f"  {item.ref_internal} update: {_changed(item)}")
    if len(updates) > 20:
        line(f"  ... and {len(updates) - 20} more updates (all in --json)")
    _print_matches(plan)
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
    line(f"Applying it costs {plan.calls} API calls ({when}).")
    if plan.day_remaining is not None and plan.calls > plan.day_remaining:
        line(
            f"That is more than the {plan.day_remaining} calls left today: the run will pause "
            "when the day's budget is spent and resume when run again."
        )


def _changed(item: Any) -> str:
    return "; ".join(f"{k}: {v['from']!r} -> {v['to']!r}" for k, v in item.changes.items())


def _print_matches(plan: Any, shown: int = 20) -> None:
    """Adopt mode: which contact each learner adopts, with its score and evidence, and the
    learners that wait for a decision with their candidates."""
    adopts = [i for i in plan.items if i.state == "adopt"]
    for item in adopts[:shown]:
        best = item.candidates[0]
        how = "confirmed" if best.decision == "confirmed" else f"score {best.pair.score:.2f}"
        line(f"  {item.ref_internal} adopt: {best.name!r} ({best.contact_id}), {how}")
        line(f"      evidence: {best.summary}")
        line(f"      sends: {_changed(item)}")
    if len(adopts) > shown:
        line(f"  ... and {len(adopts) - shown} more adopts (all in --json)")
    reviews = [i for i in plan.items if i.state == "review"]
    for item in reviews[:shown]:
        line(f"  {item.ref_internal} review: waits for a decision")
        for c in item.candidates[:3]:
            line(f"      {c.contact_id} {c.name!r}: {c.pair.score:.2f} {c.status}; {c.summary}")
            if c.refused:
                line(f"        {c.refused}")
    if len(reviews) > shown:
        line(f"  ... and {len(reviews) - shown} more waiting for a decision (all in --json)")
    noted = [i for i in plan.items if i.state == "create" and i.reasons]
    for item in noted[:shown]:
        line(f"  {item.ref_internal} create: {item.reasons[0]}")
    if reviews:
        line(
            "  Decide with `learnerledger duplicates confirm REF CONTACT_ID` (adopt it) or "
            "`reject` (someone else); the next sync acts on the decisions."
        )


def _print_problems(errors: list[dict[str, str]], shown: int = 10) -> None:
    """The first few learners per kind of problem; all of them are in --json and the History."""
    by_state: dict[str, list[dict[str, str]]] = {}
    for error in errors:
        by_state.setdefault(error["state"], []).append(error)
    for state, items in by_state.items():
        for error in items[:shown]:
            line(f"  {error['ref_internal']} {state}: {error['message']}")
        if len(items) > shown:
            line(f"  ... and {len(items) - shown} more {state} (all in --json and History)")


@sync.command("learners")
@click.option(
    "--mode",
    type=click.Choice(["adopt", "duplicate"]),
    default="adopt",
    show_default=True,
    help="adopt: a learner without a contact takes over the existing contact that is "
    "unambiguously it, and possible matches wait for a decision; duplicate: always create "
    "the learner's own contact and merge old ones later.",
)
@dry_run_option("Show the plan; send nothing.")
@tenant_option()
@json_option("Print the plan or the run as JSON.")
@click.pass_context
def sync_learners_command(
    ctx: click.Context, mode: str, dry_run: bool, tenant: str | None, as_json: bool
) -> None:
    """Give every learner flagged for Xero exactly one contact carrying its RefInternal."""
    from learnerledger.sync import sync_learners
    from learnerledger.xero.client import open_client

    store = open_store(ctx)
    mapping = _mapping(ctx)
    bar: Any = None

    def on_progress(p: ProgressEvent) -> None:
        nonlocal bar
        if as_json:
            return
        if bar is None and p.total:
            bar = click.progressbar(length=p.total, label="Syncing learners", file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(p.done - bar.pos)
            note = f" — {p.note}" if p.note else ""
            batches = p.detail or {}
            done, total = batches.get("batches_done", 0), batches.get("batches_total", 0)
            bar.label = f"Batches {done}/{total}{note}"
            bar.render_progress()

    with open_client(store, get_config(ctx), tenant=tenant) as client:
        try:
            run = sync_learners(
                store, client, mapping=mapping, mode=mode, dry_run=dry_run, on_progress=on_progress
            )
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)

    def human() -> None:
        if dry_run:
            _print_plan(run.plan)
        else:
            line(run.message)
            _print_problems(run.errors)

    report(run.plan.as_json() if dry_run else run.as_json(), as_json=as_json, human=human)
    if run.paused is not None:
        paused(ctx, run.message)
