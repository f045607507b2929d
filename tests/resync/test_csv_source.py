"""A CSV source: the resync writes the SMS side into the local store, ``export documents
--csv`` gives the SMS its file, and documents move, change and leave with Xero."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import ConnectedXero, XeroSandbox
from learnerledger.cli import main
from learnerledger.resync import EXPORT_COLUMNS, export_csv, reconcile, resync_documents
from learnerledger.resync.run import ResyncReport
from resync.conftest import ROOMY, day
from sandbox_documents import Books, line
from sync.test_sync_learners import make_learner, put_learners


def resync(setup: ConnectedXero, **options: Any) -> ResyncReport:
    with setup.client() as client:
        return resync_documents(setup.store, client, **options)


def exported(setup: ConnectedXero) -> list[dict[str, str]]:
    out = io.StringIO()
    export_csv(setup.store, setup.connection.id, out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_a_csv_source_gets_its_documents_in_the_local_store_and_an_export(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(sandbox)
    put_learners(setup.store, make_learner("CSV0000001"), make_learner("CSV0000002", "Sam"))
    books = Books(sandbox, sandbox.http())
    felicity = books.contact("Felicity Jones CSV0000001", ContactNumber="CSV0000001")
    sam = books.contact("Sam Jones CSV0000002", ContactNumber="CSV0000002")
    employer = books.contact("Harbour Constructions")
    first = books.invoice(felicity, line("1250.00"), date=day(30), due=day(1))
    books.pay(first["InvoiceID"], "250.00", date=day(20))
    second = books.invoice(sam, line("99.95"), date=day(25), due=day(1), status="DRAFT")
    books.invoice(employer, line("4000.00"), date=day(25), due=day(1))

    report = resync(setup)

    assert (report.counts()["written"], report.unmatched_count) == (2, 1)
    rows = exported(setup)
    assert [r["InvoiceId"] for r in rows] == [first["InvoiceID"], second["InvoiceID"]]
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    felicitys = rows[0]
    assert (felicitys["RefInternal"], felicitys["AmountTotal"], felicitys["AmountDue"]) == (
        "CSV0000001",
        "1250.00",
        "1000.00",
    )
    assert json.loads(felicitys["Payments"], parse_float=Decimal) == [
        {"Type": "Payment", "Date": f"{day(20)}T00:00:00", "Amount": Decimal("250.00")}
    ]
    assert '"Amount":250.00' in felicitys["Payments"]  # digit for digit
    assert json.loads(felicitys["LineItems"])[0]["Quantity"] == 1
    assert felicitys["SourceAppKey"] == "Xero"

    # the draft was Felicity's; the unchanged re-run writes nothing
    answer = books.update("Invoices", second["InvoiceID"], Contact={"ContactID": felicity})
    assert answer.status_code == 200, answer.text
    moved = resync(setup)
    assert (moved.moved, moved.unchanged) == (1, 1)
    assert {r["RefInternal"] for r in exported(setup)} == {"CSV0000001"}
    assert resync(setup).counts()["written"] == resync(setup).counts()["moved"] == 0

    with setup.client() as client:
        compared = reconcile(setup.store, client)
    assert compared.as_json()["mismatches"] == []
    assert compared.as_json()["learners"] == [
        {
            "ref_internal": "CSV0000001",
            "xero_outstanding": "1000.00",
            "sms_outstanding": "1000.00",
            "xero_documents": 2,
            "sms_documents": 2,
        }
    ]

    path = tmp_path / "documents.csv"
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(setup.config.home),
            "--database-url",
            str(setup.store.engine.url),
            "export",
            "documents",
            "--csv",
            "--output",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 documents exported" in result.stderr
    with path.open(encoding="utf-8") as saved:
        assert list(csv.DictReader(saved)) == exported(setup)
    assert Decimal(exported(setup)[0]["AmountDue"]) == Decimal("1000.00")
    refused = CliRunner().invoke(
        main,
        [
            "--home",
            str(setup.config.home),
            "--database-url",
            str(setup.store.engine.url),
            "export",
            "documents",
        ],
    )
    assert refused.exit_code == 2
    assert "--csv" in refused.output
