"""``learnerledger import learners FILE.csv``: learners from a student management system's
CSV export, keyed by RefInternal."""

from __future__ import annotations

from pathlib import Path

import click

from learnerledger.cli.options import (
    dry_run_option,
    json_option,
    open_store,
    phone_region_option,
    resolve_phone_region,
)
from learnerledger.cli.render import Group, line, note
from learnerledger.cli.render import report as render_report

__all__ = ["import_group"]


@click.group("import", cls=Group)
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
@dry_run_option("Check every row but store nothing.")
@phone_region_option
@json_option("Print the result as JSON.")
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
    from learnerledger.jobs import ProgressEvent
    from learnerledger.sources.csvfile import import_learners

    region = resolve_phone_region(ctx, phone_region)
    store = open_store(ctx)

    def on_progress(event: ProgressEvent) -> None:
        note(f"  {event.done:,} rows read")

    result = import_learners(
        store,
        file,
        region=region,
        dry_run=dry_run,
        report=report,
        on_progress=None if as_json else on_progress,
    )

    def human() -> None:
        limit = _SHOWN_ON_SCREEN if report else None
        for rejection in result.rejected[:limit]:
            ref = f" ({rejection.ref_internal})" if rejection.ref_internal else ""
            for problem in rejection.problems:
                line(f"Rejected line {rejection.line}{ref}, {problem.column}: {problem.message}")
        if limit is not None and len(result.rejected) > limit:
            line(f"... and {len(result.rejected) - limit} more rejected rows in {report}.")
        for warning in result.warnings[:20]:
            line(f"Note line {warning.line} ({warning.ref_internal}): {warning.message}")
        if len(result.warnings) > 20:
            line(f"... and {len(result.warnings) - 20} more notes, kept with each learner.")
        if result.ignored_columns:
            line("Ignored columns (not learner fields): " + ", ".join(result.ignored_columns))
        prefix = "Dry run, nothing stored. " if dry_run else ""
        line(
            f"{prefix}{result.rows:,} rows: {result.inserted:,} new, {result.updated:,} changed, "
            f"{result.unchanged:,} unchanged, {len(result.rejected):,} rejected "
            f"({result.encoding})."
        )
        if report:
            line(f"Rejected rows written to {report}.")

    render_report(result.as_json(), as_json=as_json, human=human)
