"""Invoices on the Wisenet sandbox through learnerledger's client, over HTTP: the upsert keyed
by the Xero InvoiceID, exact amounts, paging in InvoiceId order, removal, refusals kept as
Wisenet sent them, and the sandbox's hold fault that crash tests use."""

from __future__ import annotations

import json
import threading
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from conftest import WisenetSandbox
from learnerledger.errors import WisenetError
from learnerledger.sources.wisenet import WisenetClient
from resync.conftest import as_json


def learner(sandbox: WisenetSandbox) -> int:
    created = sandbox.http().post(
        "/learnersAU", json=[{"Personal": {"FirstName": "Ada", "LastName": "Lovelace"}}]
    )
    assert created.status_code == 200, created.text
    return int(created.json()[0]["Data"]["LearnerId"])


def body(learner_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "LearnerId": learner_id,
        "InvoiceNumber": "INV-0042",
        "InvoiceReference": None,
        "SourceAppKey": "Xero",
        "Status": "AUTHORISED",
        "Date": "2026-03-05T00:00:00",
        "DueDate": "2026-03-19T00:00:00",
        "LineItems": [
            {
                "ItemCode": None,
                "Description": "Tuition",
                "Quantity": 3,
                "UnitAmount": Decimal("416.6700"),
                "AccountCode": "210",
                "TaxType": "EXEMPTOUTPUT",
                "TaxAmount": Decimal("0.00"),
                "LineAmount": Decimal("1250.01"),
            }
        ],
        "AmountTotal": Decimal("1250.01"),
        "AmountDue": Decimal("750.01"),
        "AmountPaid": Decimal("500.00"),
        "AmountCredited": Decimal("0.00"),
        "UpdateDateUtc": "2026-03-12T04:41:09.123",
        "Payments": [{"Type": "Payment", "Date": "2026-03-10T00:00:00", "Amount": Decimal("500")}],
        **changes,
    }


@pytest.fixture
def empty(make_wisenet_sandbox: Any) -> WisenetSandbox:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=None)
    return sandbox


def test_put_creates_then_replaces_and_amounts_come_back_exactly(empty: WisenetSandbox) -> None:
    client: WisenetClient = empty.client()
    learner_id = learner(empty)
    invoice_id = str(uuid.uuid4()).upper()
    created = client.put_invoice(invoice_id, body(learner_id))
    assert created["InvoiceId"] == invoice_id
    held = client.get_invoice(invoice_id.lower())
    assert held is not None
    assert held["AmountTotal"] == Decimal("1250.01")
    assert held["LineItems"][0]["UnitAmount"] == Decimal("416.67")
    assert held["Payments"] == [{"Type": "Payment", "Date": "2026-03-10T00:00:00", "Amount": 500}]
    replaced = client.put_invoice(invoice_id, body(learner_id, Status="PAID", AmountDue=0))
    assert replaced["Status"] == "PAID"
    assert [i["Status"] for page in client.iter_invoices(learner_id=learner_id) for i in page] == [
        "PAID"
    ]
    assert client.delete_invoice(invoice_id) is True
    assert client.get_invoice(invoice_id) is None
    assert client.delete_invoice(invoice_id) is False  # nothing left to remove


def test_refusals_keep_wisenets_answer(empty: WisenetSandbox) -> None:
    client: WisenetClient = empty.client()
    learner_id = learner(empty)
    invoice_id = str(uuid.uuid4())
    fractional = body(learner_id)
    fractional["LineItems"][0]["Quantity"] = Decimal("1.5")
    with pytest.raises(WisenetError) as refused:
        client.put_invoice(invoice_id, fractional)
    assert refused.value.status == 400
    assert "Quantity" in (refused.value.body or "")
    with pytest.raises(WisenetError) as unknown:
        client.put_invoice(invoice_id, body(424242))
    assert unknown.value.status == 400
    assert "424242" in (unknown.value.body or "")
    assert client.get_invoice(invoice_id) is None


def test_the_list_pages_by_a_thousand_in_invoice_id_order(empty: WisenetSandbox) -> None:
    learner_id = learner(empty)
    ids = sorted(str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(1003))
    store = empty.sandbox.store
    with store.tx() as conn:
        for invoice_id in reversed(ids):
            conn.execute(
                "INSERT INTO invoices (invoice_id, learner_id, data) VALUES (?, ?, ?)",
                (
                    invoice_id,
                    learner_id,
                    json.dumps({"InvoiceId": invoice_id, "LearnerId": learner_id}),
                ),
            )
    client: WisenetClient = empty.client()
    before = client.calls
    pages = list(client.iter_invoices())
    assert [len(p) for p in pages] == [1000, 3]
    assert [i["InvoiceId"] for p in pages for i in p] == ids
    assert client.calls - before == 2


def test_a_held_call_waits_until_released_and_a_dropped_one_is_not_done(
    empty: WisenetSandbox,
) -> None:
    learner_id = learner(empty)
    base = empty.server.url + "/sandbox/faults"
    rule = {"kind": "hold", "count": 2, "method": "PUT", "path": "invoices"}
    assert httpx.post(base, json={"rules": [rule]}).status_code == 200
    assert httpx.post(base, json={"rules": [{"kind": "status", "count": 1}]}).status_code == 400
    answers: dict[str, int] = {}

    def put(invoice_id: str) -> None:
        response = empty.http().put(f"/invoices/{invoice_id}", json=as_json(body(learner_id)))
        answers[invoice_id] = response.status_code

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    worker = threading.Thread(target=put, args=(first,))
    worker.start()
    assert httpx.get(base + "/held", params={"count": 1}).json()["held"] == [
        {"method": "PUT", "path": f"/invoices/{first}"}
    ]
    assert empty.http().get(f"/invoices/{first}").status_code == 404  # not done yet
    assert httpx.post(base + "/release", json={"then": "answer"}).json() == {"released": 1}
    worker.join()
    assert answers[first] == 200
    worker = threading.Thread(target=put, args=(second,))
    worker.start()
    httpx.get(base + "/held", params={"count": 1})
    assert httpx.post(base + "/release", json={"then": "drop"}).json() == {"released": 1}
    worker.join()
    assert answers[second] == 503
    assert empty.http().get(f"/invoices/{second}").status_code == 404
    assert httpx.get(base + "/held", params={"count": 1, "timeout": 0}).status_code == 408
