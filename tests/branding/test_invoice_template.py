"""The shipped invoice template: Word merge fields for the learner's first and last name, none
of ``ContactName``, Xero's required TableStart/TableEnd pairs in the rows they repeat, under
1 MB; and the file in docs/ is what the generator writes today."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from click.testing import CliRunner

from learnerledger.cli import main
from learnerledger.invoice_template import CONTACT_FIELDS, LINE_ITEM_FIELDS

SHIPPED = Path(__file__).parents[2] / "docs" / "templates" / "learnerledger-invoice.docx"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _document_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as docx:
        return docx.read("word/document.xml").decode("utf-8")


def _fields(xml: str) -> list[str]:
    return re.findall(r"MERGEFIELD\s+(\S+)", xml)


def test_the_generated_template_prints_first_and_last_name(tmp_path: Path) -> None:
    out = tmp_path / "invoice.docx"
    result = CliRunner().invoke(main, ["template", "invoice", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size < 1_000_000
    xml = _document_xml(out)
    fields = _fields(xml)
    for name in (*CONTACT_FIELDS, *LINE_ITEM_FIELDS, "InvoiceNumber", "InvoiceAmountDue"):
        assert name in fields
    assert "ContactName" not in fields
    assert "ContactName" not in xml
    # Word reads them as fields only with the begin/separate/end characters around each.
    assert xml.count('w:fldCharType="begin"') == len(fields)
    assert xml.count('w:fldCharType="end"') == len(fields)


def test_each_table_start_and_end_share_the_row_xero_repeats(tmp_path: Path) -> None:
    from docx import Document

    out = tmp_path / "invoice.docx"
    CliRunner().invoke(main, ["template", "invoice", "--out", str(out)])
    rows = [row._tr for table in Document(str(out)).tables for row in table.rows]
    for region in ("LineItem", "TaxSubTotal"):
        holding = [_fields("".join(t.text or "" for t in tr.iter(f"{W}instrText"))) for tr in rows]
        starts = [i for i, f in enumerate(holding) if f"TableStart:{region}" in f]
        ends = [i for i, f in enumerate(holding) if f"TableEnd:{region}" in f]
        assert len(starts) == 1
        assert starts == ends


def test_the_shipped_template_is_the_generated_one(tmp_path: Path) -> None:
    out = tmp_path / "invoice.docx"
    CliRunner().invoke(main, ["template", "invoice", "--out", str(out)])
    assert SHIPPED.exists(), "run: learnerledger template invoice --out " + str(SHIPPED)
    assert _document_xml(SHIPPED) == _document_xml(out)
