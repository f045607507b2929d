"""``learnerledger duplicates``: list the contacts that may be one of the learners, with their
score and evidence, record the decisions (``confirm``, ``reject``), and fit the matcher to
them (``calibrate``)."""

from __future__ import annotations

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

__all__ = ["duplicates", "match_settings"]

_STATUSES = ("auto", "review", "confirmed", "rejected")


def match_settings(store: Any, connection_id: int) -> Any:
    """The matcher's settings for an organisation: what ``duplicates calibrate`` fitted, else
    None (the defaults)."""
    from learnerledger.matching import MatchSettings
    from learnerledger.store.duplicates import fitted_settings

    stored = fitted_settings(store, connection_id)
    return MatchSettings.from_json(stored) if stored is not None else None


def _evidence(evidence: list[dict[str, Any]]) -> str:
    return "; ".join(
        str(e.get("detail") or f"{e.get('field')} {e.get('comparison')}") for e in evidence[:6]
    )


@click.group(cls=Group, invoke_without_command=True)
@tenant_option()
@json_option(help="Print the pairs as one JSON document.")
@click.option(
    "--min-score", type=click.FloatRange(0, 1), help="Only pairs scoring at least this (0 to 1)."
)
@click.option("--status", type=click.Choice(_STATUSES), help="Only pairs in this state.")
@click.pass_context
def duplicates(
    ctx: click.Context,
    tenant: str | None,
    as_json: bool,
    min_score: float | None,
    status: str | None,
) -> None:
    """Find the contacts that may be one of the learners, and list them with their evidence."""
    if ctx.invoked_subcommand is not None:
        return
    from learnerledger.merge import find_duplicates_job
    from learnerledger.xero.client import open_client

    store = open_store(ctx)
    with open_client(store, get_config(ctx), tenant=tenant) as client:
        settings = match_settings(store, client.connection.id)
        run = find_duplicates_job(store, client, settings=settings)
    shown = [
        p
        for p in run.pairs
        if (min_score is None or p.score >= min_score)
        and (status is None or p.shown_status == status)
    ]
    document = {**run.as_json(), "pairs": [p.as_json() for p in shown]}

    def human() -> None:
        line(run.message)
        for p in shown:
            survivor = p.survivor_id or "no contact yet"
            line(
                f"  {p.ref_internal} ~ contact {p.contact_id}: {p.score:.2f} "
                f"{p.shown_status} (survivor {survivor})"
            )
            if p.evidence:
                line(f"      {_evidence(p.evidence)}")
            for reason in p.reasons:
                line(f"      {reason}")

    report(document, as_json=as_json, human=human)
    if run.status == "paused":
        paused(ctx, run.message)


def _decide(
    ctx: click.Context,
    decision: str,
    tenant: str | None,
    ref: str | None,
    contact_id: str | None,
    all_auto: bool,
    min_score: float | None,
) -> None:
    from learnerledger.errors import LearnerLedgerError
    from learnerledger.merge import decide
    from learnerledger.xero.connections import find_connection

    if (ref is None) != (contact_id is None):
        raise LearnerLedgerError(
            "A pair is a learner's RefInternal and a ContactID.", fix="Give both, or neither."
        )
    store = open_store(ctx)
    connection = find_connection(store, tenant)
    pair = (ref, contact_id) if ref is not None and contact_id is not None else None
    done = decide(store, connection.id, decision, pair=pair, all_auto=all_auto, min_score=min_score)
    line(f"{done} pair{'s' if done != 1 else ''} {decision}.")


def _decision_command(decision: str, verb: str) -> Any:
    @duplicates.command(verb, help=f"Record that pairs are {decision}; kept across runs.")
    @tenant_option()
    @click.argument("ref", required=False)
    @click.argument("contact_id", required=False)
    @click.option("--all-auto", is_flag=True, help="Every undecided pair the matcher rated auto.")
    @click.option(
        "--min-score",
        type=click.FloatRange(0, 1),
        help="Every undecided pair scoring at least this.",
    )
    @click.pass_context
    def command(
        ctx: click.Context,
        tenant: str | None,
        ref: str | None,
        contact_id: str | None,
        all_auto: bool,
        min_score: float | None,
    ) -> None:
        _decide(ctx, decision, tenant, ref, contact_id, all_auto, min_score)

    return command


confirm = _decision_command("confirmed", "confirm")
reject = _decision_command("rejected", "reject")


@duplicates.command("calibrate")
@tenant_option()
@json_option(help="Print the fitted settings and the figures as one JSON document.")
@dry_run_option(help="Fit and show the figures, but keep the settings in use.")
@click.pass_context
def calibrate_command(ctx: click.Context, tenant: str | None, as_json: bool, dry_run: bool) -> None:
    """Fit the matcher's thresholds and weights to the pairs people confirmed and rejected."""
    from learnerledger.matching import calibrate
    from learnerledger.store import links, mirror
    from learnerledger.store.duplicates import list_pairs, save_fitted_settings
    from learnerledger.store.learners import iter_learners
    from learnerledger.xero.connections import find_connection

    store = open_store(ctx)
    connection = find_connection(store, tenant)
    decisions = {
        (p.ref_internal, p.contact_id): p.decision == "confirmed"
        for p in list_pairs(store, connection.id)
        if p.decision is not None
    }
    with store.read() as conn:
        learners = [x for x in iter_learners(conn) if x.sync_to_xero]
        index = mirror.load_contact_index(conn, connection.id)
        linked, _ = links.load_links(conn, connection.id)
    current = match_settings(store, connection.id)
    result = calibrate(
        learners, list(index.by_id.values()), decisions, survivors=linked, settings=current
    )
    if not dry_run:
        save_fitted_settings(store, connection.id, result.settings.as_json())
    document = {**result.as_json(), "stored": not dry_run}

    def human() -> None:
        before, after = result.before, result.after
        line(
            f"Calibrated on {before.confirmed:,} confirmed and {before.rejected:,} rejected "
            f"pairs ({result.skipped:,} left out: their learner or contact is gone)."
        )
        line(f"  {'on the decided pairs':<34} {'before':>9} {'after':>9}")
        rows = [
            ("confirmed pairs found", before.confirmed_found, after.confirmed_found),
            ("confirmed pairs auto", before.confirmed_auto, after.confirmed_auto),
            ("rejected pairs found", before.rejected_found, after.rejected_found),
            ("rejected pairs auto", before.rejected_auto, after.rejected_auto),
        ]
        for label, old, new in rows:
            line(f"  {label:<34} {old:>9,} {new:>9,}")
        line(
            f"  {'precision at auto':<34} {before.precision_at_auto:>9.3f} "
            f"{after.precision_at_auto:>9.3f}"
        )
        line(
            f"  {'recall at review':<34} {before.recall_at_review:>9.3f} "
            f"{after.recall_at_review:>9.3f}"
        )
        fitted = result.settings
        old_settings = current or type(fitted)()
        line(
            f"  thresholds: auto {old_settings.auto:g} -> {fitted.auto:g}, "
            f"review {old_settings.review:g} -> {fitted.review:g}"
        )
        if dry_run:
            line("Dry run: the settings in use are unchanged.")
        else:
            line("Stored: `duplicates` and `sync learners` use these settings from now on.")

    report(document, as_json=as_json, human=human)
