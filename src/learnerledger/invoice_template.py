"""The Xero custom (DOCX) invoice template that prints the learner's name without its ID.

Every learner's contact is named "First Last RefInternal" (Xero wants contact names unique), and
Xero's standard invoice prints that Name (its ``ContactName`` field). This template prints
``ContactFirstName`` and ``ContactLastName`` instead, and follows Xero's rules for DOCX
templates (Xero Central, "Rules for using custom (DOCX) templates for invoice branding" and
"Fields you can insert into a custom template"):

- Word merge fields (``MERGEFIELD name``), written as Word writes them from Insert > Quick Parts >
  Field, so Word and Xero read them as fields, not text;
- the required ``TableStart:LineItem`` / ``TableEnd:LineItem`` pair inside the one table row that
  Xero repeats per line item (both in the same row, or Xero cannot pair them), and the
  ``TableStart:TaxSubTotal`` / ``TableEnd:TaxSubTotal`` pair around the tax summary row;
- under 1 MB, no images, WordArt or embedded objects.

``python-docx`` writes it; ``learnerledger template invoice`` calls :func:`write_invoice_template`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["CONTACT_FIELDS", "LINE_ITEM_FIELDS", "build_invoice_template", "write_invoice_template"]

CONTACT_FIELDS = ("ContactFirstName", "ContactLastName", "ContactPostalAddress")
LINE_ITEM_FIELDS = ("Description", "Quantity", "UnitAmount", "TaxPercentageOrName", "LineAmount")
_FIXED = datetime(2026, 1, 1, tzinfo=UTC)  # a template's dates do not change its meaning
MAX_BYTES = 1_000_000  # Xero refuses templates larger than 1 MB


def _field(paragraph: Any, name: str, *, bold: bool = False) -> None:
    """A Word merge field (begin, instruction, separate, «shown», end), as Word inserts it."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def char(kind: str) -> None:
        run = paragraph.add_run()
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        run._r.append(element)

    char("begin")
    instr_run = paragraph.add_run()
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" MERGEFIELD {name} \\* MERGEFORMAT "
    instr_run._r.append(instr)
    char("separate")
    paragraph.add_run(f"«{name}»").bold = bold
    char("end")


def _line(cell_or_doc: Any, *parts: str | tuple[str], bold: bool = False) -> Any:
    """A paragraph of text and fields: a plain string is text, a 1-tuple a field name."""
    paragraph = cell_or_doc.add_paragraph()
    for part in parts:
        if isinstance(part, tuple):
            _field(paragraph, part[0], bold=bold)
        else:
            paragraph.add_run(part).bold = bold
    return paragraph


def _cell(cell: Any, *parts: str | tuple[str], bold: bool = False, right: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)
    paragraph = _line(cell, *parts, bold=bold)
    if right:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def build_invoice_template() -> Any:
    """The template as a python-docx ``Document``."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.styles["Normal"].font.name = "Arial"
    doc.styles["Normal"].font.size = Pt(10)
    doc.core_properties.title = "Invoice (learner's first and last name)"
    doc.core_properties.author = "learnerledger"
    doc.core_properties.comments = "Xero custom invoice template: docs/invoice-template.md"
    doc.core_properties.created = doc.core_properties.modified = _FIXED

    title = _line(doc, ("InvoiceTitle",), bold=True)
    title.runs[-2].font.size = Pt(20)

    header = doc.add_table(rows=1, cols=3)
    bill_to, details, organisation = header.rows[0].cells
    _cell(bill_to, ("ContactFirstName",), " ", ("ContactLastName",), bold=True)
    _line(bill_to, ("ContactPostalAddress",))
    _cell(details, "Invoice Date", bold=True)
    _line(details, ("InvoiceDate",))
    _line(details, "Invoice Number").runs[0].bold = True
    _line(details, ("InvoiceNumber",))
    _line(details, "Reference").runs[0].bold = True
    _line(details, ("Reference",))
    _cell(organisation, ("OrganisationName",), bold=True)
    _line(organisation, ("OrganisationPostalAddress",))
    _line(organisation, ("OrganisationTaxDisplayName",), " ", ("OrganisationTaxDisplayNumber",))

    doc.add_paragraph()
    items = doc.add_table(rows=2, cols=5)
    items.style = "Table Grid"
    for cell, text in zip(
        items.rows[0].cells,
        ("Description", "Quantity", "Unit Price", "GST", "Amount"),
        strict=True,
    ):
        _cell(cell, text, bold=True, right=text != "Description")
    row = items.rows[1].cells
    # Xero repeats this one row per line item: TableStart and TableEnd must both be in it.
    _cell(row[0], ("TableStart:LineItem",), ("Description",))
    _cell(row[1], ("Quantity",), right=True)
    _cell(row[2], ("UnitAmount",), right=True)
    _cell(row[3], ("TaxPercentageOrName",), right=True)
    _cell(row[4], ("LineAmount",), ("TableEnd:LineItem",), right=True)

    totals = doc.add_table(rows=5, cols=2)
    labels: tuple[tuple[str | tuple[str], ...], ...] = (
        ("Subtotal",),
        (("TableStart:TaxSubTotal",), "Total ", ("TaxCode",)),
        ("TOTAL ", ("InvoiceCurrency",)),
        ("Less amount paid",),
        ("AMOUNT DUE ", ("InvoiceCurrency",)),
    )
    values: tuple[tuple[str | tuple[str], ...], ...] = (
        (("InvoiceSubTotal",),),
        (("TaxTotal",), ("TableEnd:TaxSubTotal",)),
        (("InvoiceTotal",),),
        (("InvoiceTotalNetPayments",),),
        (("InvoiceAmountDue",),),
    )
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        left, right = totals.rows[index].cells
        _cell(left, *label, bold=index >= 2, right=True)
        _cell(right, *value, bold=index >= 2, right=True)

    doc.add_paragraph()
    _line(doc, "Due Date: ", ("InvoiceDueDate",), bold=True)
    _line(doc, ("PaymentMessageAndUrl",))
    return doc


def write_invoice_template(path: Path) -> int:
    """Write the template to ``path``; returns its size in bytes (under Xero's 1 MB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    build_invoice_template().save(str(path))
    size = path.stat().st_size
    if size >= MAX_BYTES:  # pragma: no cover - the template is a few kilobytes
        raise ValueError(f"{path} is {size:,} bytes; Xero accepts templates under 1 MB")
    return size
