"""``learnerledger template invoice``: write the Xero custom invoice template (DOCX)."""

from __future__ import annotations

from pathlib import Path

import click

from learnerledger.cli.render import Group, line

__all__ = ["template"]


@click.group(cls=Group)
def template() -> None:
    """Templates to upload to Xero."""


@template.command("invoice")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("learnerledger-invoice.docx"),
    show_default=True,
    help="Where to write the template.",
)
def invoice(out: Path) -> None:
    """Write the invoice template that prints the learner's first and last name (not the
    contact's Name with its RefInternal); upload it in Xero as docs/invoice-template.md says."""
    from learnerledger.invoice_template import write_invoice_template

    size = write_invoice_template(out)
    line(f"Wrote {out} ({size:,} bytes). Upload it in Xero: docs/invoice-template.md.")
