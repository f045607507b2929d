"""``learnerledger check xero``: whether the organisation's invoices print learners' names
with the invoice template (one call to Xero)."""

from __future__ import annotations

import click

from learnerledger.cli.options import get_config, json_option, open_store, tenant_option
from learnerledger.cli.render import EXIT_ERROR, Group, line, note, report

__all__ = ["check"]


@click.group(cls=Group)
def check() -> None:
    """Check a connected system's set-up."""


@check.command("xero")
@tenant_option()
@click.option(
    "--theme",
    help="Name you gave the uploaded invoice template in Xero "
    "(default: the name docs/invoice-template.md gives it).",
)
@json_option("Print the check as one JSON document.")
@click.pass_context
def xero(ctx: click.Context, tenant: str | None, theme: str | None, as_json: bool) -> None:
    """Read the branding themes and say which one invoices use; exits 1 when learners'
    invoices would not print with the invoice template."""
    from learnerledger.xero.branding import DEFAULT_TEMPLATE_THEME, check_organisation
    from learnerledger.xero.client import open_client

    store = open_store(ctx)
    with open_client(store, get_config(ctx), tenant=tenant) as client:
        result = check_organisation(store, client, expected=theme or DEFAULT_TEMPLATE_THEME)

    def human() -> None:
        default = result.default.name if result.default else "none"
        line(f"{result.organisation}: invoices use the branding theme '{default}' (the default).")
        for t in result.themes:
            line(f"  {t.sort_order}. {t.name}")
        if result.ok:
            line(f"Learners' invoices print with '{result.expected}': first and last name only.")
        for problem in result.problems:
            note(f"Problem: {problem}")

    report(result.as_json(), as_json=as_json, human=human)
    if not result.ok:
        ctx.exit(EXIT_ERROR)
