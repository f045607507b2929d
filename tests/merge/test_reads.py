"""Reading the documents of many contacts afresh: by ``ContactIDs`` and ``where`` queries of a
few contacts each, or, when that costs fewer calls, the whole stream; either way exactly the
documents of the contacts asked for."""

from __future__ import annotations

from typing import Any

from conftest import ConnectedXero, XeroSandbox
from sandbox_documents import Books, line
from sync.test_sync_learners import ROOMY


def _organisation(make_xero_sandbox: Any, connect_xero: Any) -> tuple[ConnectedXero, Books]:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    return connect_xero(sandbox), Books(sandbox, sandbox.http())


def test_documents_of_many_contacts(make_xero_sandbox: Any, connect_xero: Any) -> None:
    setup, books = _organisation(make_xero_sandbox, connect_xero)
    contacts = [books.contact(f"Reader {i}") for i in range(45)]
    others = [books.contact(f"Not Asked {i}") for i in range(3)]
    wanted: dict[str, set[str]] = {"invoices": set(), "credit_notes": set()}
    for i, contact in enumerate([*contacts, *others]):
        invoice = books.invoice(contact, line(str(10 + i)), status="DRAFT")
        credit = books.credit_note(contact, line("5"))
        if contact in contacts:
            wanted["invoices"].add(invoice["InvoiceID"])
            wanted["credit_notes"].add(credit["CreditNoteID"])
    with setup.client() as client:
        for stream, expected in wanted.items():
            # Few documents: the whole stream is one page, cheaper than 2 or 3 queries.
            before = client.calls
            whole = [d for p in client.documents_of_contacts(stream, contacts) for d in p.records]
            assert {d.document_id for d in whole} == expected
            assert len(whole) == len(expected)
            assert client.calls - before == 1
            # Pages of 4: the stream is 12 pages, more than the 2 or 3 queries, which are used.
            queried = [
                d
                for p in client.documents_of_contacts(stream, contacts, page_size=4)
                for d in p.records
            ]
            assert {d.document_id for d in queried} == expected
            assert len(queried) == len(expected)
        few = [d for p in client.documents_of_contacts("invoices", contacts[:2]) for d in p.records]
        assert {d.contact_id for d in few} == set(contacts[:2])
