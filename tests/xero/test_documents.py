"""``pull documents`` mirrors invoices, credit notes, payments, prepayments and overpayments
with exact amounts, their contacts and what each payment pays; incremental and date-ranged."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner

from conftest import XeroSandbox
from learnerledger.cli import main
from learnerledger.sandbox.xero import documents as docs
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.sandbox.xero.organisation import find_account
from learnerledger.sandbox.xero.payments import insert_payment
from learnerledger.status import collect_status
from learnerledger.store import Store
from learnerledger.store.xero_tables import xero_cursors, xero_documents
from learnerledger.xero import pull_documents

BASE_MS = 1_735_689_600_000


def _seed(sandbox: XeroSandbox) -> dict[str, str]:
    """Two learners' documents: invoices (one part paid), a credit note, a prepayment and an
    overpayment. Returns the ids by name."""
    ids: dict[str, str] = {}
    tick = iter(range(BASE_MS, BASE_MS + 10**9, 1000))
    with sandbox.store.tx() as conn:
        for name in ("ada", "grace"):
            ids[name] = insert_contact(
                conn, sandbox.tenant_id, {"Name": name.title()}, now_ms=next(tick)
            )

        def document(kind: Any, type_: str, who: str, amount: str, day: date) -> str:
            data: dict[str, Any] = {
                "Type": type_,
                "Contact": {"ContactID": ids[who]},
                "Date": day,
                "Status": "AUTHORISED",
                "LineItems": [
                    {
                        "Description": "Course",
                        "Quantity": 1,
                        "UnitAmount": amount,
                        "AccountCode": "200",
                    }
                ],
            }
            if kind is docs.INVOICE:
                data["DueDate"] = day + timedelta(days=14)
            if kind.number_field:
                data[kind.number_field] = f"{type_[:3]}-{day:%m%d}"
            return docs.insert_invoice(conn, sandbox.tenant_id, data, now_ms=next(tick), kind=kind)

        ids["inv1"] = document(docs.INVOICE, "ACCREC", "ada", "1000.00", date(2026, 1, 15))
        ids["inv2"] = document(docs.INVOICE, "ACCREC", "grace", "250.10", date(2026, 3, 2))
        ids["cn1"] = document(docs.CREDIT_NOTE, "ACCRECCREDIT", "ada", "99.99", date(2026, 1, 20))
        ids["pre1"] = document(
            docs.PREPAYMENT, "RECEIVE-PREPAYMENT", "grace", "300.00", date(2026, 2, 1)
        )
        ids["over1"] = document(
            docs.OVERPAYMENT, "RECEIVE-OVERPAYMENT", "ada", "12.34", date(2026, 2, 5)
        )
        ids["pay1"] = str(uuid.uuid4())
        invoice = docs.get_document(conn, sandbox.tenant_id, ids["inv1"], docs.INVOICE)
        bank = find_account(conn, sandbox.tenant_id, code="090")
        assert invoice is not None
        assert bank is not None
        insert_payment(
            conn,
            sandbox.tenant_id,
            invoice,
            payment_id=ids["pay1"],
            day=date(2026, 1, 30),
            amount=Decimal("400.00"),
            account=bank,
            reference="Receipt 1",
            reconciled=False,
            now_ms=next(tick),
        )
    return ids


def _rows(store: Store) -> dict[str, Any]:
    with store.read() as conn:
        return {r.document_id: r for r in conn.execute(sa.select(xero_documents))}


def test_every_kind_of_document_is_mirrored_exactly(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    ids = _seed(xero_sandbox)
    setup = connect_xero(xero_sandbox)
    report = pull_documents(store, setup.client())
    assert report.status == "succeeded"
    assert report.calls == 5  # one per kind
    rows = _rows(store)
    assert {r.kind for r in rows.values()} == {
        "invoice",
        "credit_note",
        "payment",
        "prepayment",
        "overpayment",
    }
    inv1 = rows[ids["inv1"]]
    assert inv1.contact_id == ids["ada"]
    assert inv1.type == "ACCREC"
    assert inv1.date == date(2026, 1, 15)
    assert inv1.due_date == date(2026, 1, 29)
    assert Decimal(inv1.amount_paid) == Decimal("400.00")
    assert Decimal(inv1.amount_due) == Decimal(inv1.total) - Decimal("400.00")
    assert inv1.number == "ACC-0115"
    pay1 = rows[ids["pay1"]]
    assert pay1.applies_to_id == ids["inv1"]
    assert pay1.contact_id == ids["ada"]
    assert Decimal(pay1.total) == Decimal("400.00")
    assert Decimal(rows[ids["cn1"]].remaining_credit) == Decimal(rows[ids["cn1"]].total)
    assert rows[ids["pre1"]].contact_id == ids["grace"]
    assert rows[ids["over1"]].type == "RECEIVE-OVERPAYMENT"
    counts = collect_status(store, setup.config)["counts"]
    assert (counts["invoices"], counts["credit_notes"], counts["payments"]) == (2, 1, 1)
    assert (counts["prepayments"], counts["overpayments"]) == (1, 1)

    again = pull_documents(store, setup.client())
    assert again.calls == 5
    assert sum(s.written for s in again.streams) == 0


def test_a_payment_is_picked_up_with_its_invoice(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    ids = _seed(xero_sandbox)
    setup = connect_xero(xero_sandbox)
    pull_documents(store, setup.client())
    with xero_sandbox.store.tx() as conn:
        invoice = docs.get_document(conn, xero_sandbox.tenant_id, ids["inv2"], docs.INVOICE)
        bank = find_account(conn, xero_sandbox.tenant_id, code="090")
        assert invoice is not None
        assert bank is not None
        insert_payment(
            conn,
            xero_sandbox.tenant_id,
            invoice,
            payment_id=str(uuid.uuid4()),
            day=date(2026, 3, 9),
            amount=Decimal("50.00"),
            account=bank,
            reference="Receipt 2",
            reconciled=False,
            now_ms=xero_sandbox.clock.now_ms(),
        )
    report = pull_documents(store, setup.client())
    written = {s.stream: s.written for s in report.streams}
    assert written["invoices"] == 1
    assert written["payments"] == 1
    assert Decimal(_rows(store)[ids["inv2"]].amount_paid) == Decimal("50.00")


def test_a_date_range_reads_only_its_documents_with_its_own_cursor(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store
) -> None:
    ids = _seed(xero_sandbox)
    setup = connect_xero(xero_sandbox)
    report = pull_documents(
        store, setup.client(), date_from=date(2026, 1, 1), date_to=date(2026, 1, 31)
    )
    assert report.status == "succeeded"
    mirrored = set(_rows(store))
    assert {ids["inv1"], ids["cn1"], ids["pay1"]} <= mirrored
    assert ids["inv2"] not in mirrored
    assert ids["pre1"] not in mirrored
    reads = [e for e in xero_sandbox.recorder.api_exchanges() if e.path.endswith("/Invoices")]
    assert "DateTime%282026%2C+01%2C+01%29" in reads[0].query
    with store.read() as conn:
        cursors = set(conn.execute(sa.select(xero_cursors.c.stream)).scalars())
    assert "invoices 2026-01-01..2026-01-31" in cursors
    assert "invoices" not in cursors


def test_pull_documents_on_the_command_line(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    _seed(xero_sandbox)
    args = ["--home", str(tmp_path / "home"), "--database-url", str(store.engine.url)]
    runner = CliRunner()
    connected = runner.invoke(
        main,
        [
            *args,
            "connect",
            "xero",
            "--custom-connection",
            "--client-id",
            xero_sandbox.client_id,
            "--client-secret",
            xero_sandbox.client_secret,
            "--base-url",
            xero_sandbox.url,
        ],
    )
    assert connected.exit_code == 0, connected.output
    result = runner.invoke(
        main, [*args, "pull", "documents", "--from", "2026-01-01", "--to", "2026-12-31", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["invoices"]["written"] == 2
    assert report["counts"]["calls"] == 5
