"""An organisation for the merge tests, over HTTP against the Xero sandbox: legacy contacts
typed by hand with their history, learners synced in duplicate mode (each gets a contact of
its own), the pairs found by ``duplicates`` and confirmed."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from conftest import ConnectedXero, XeroSandbox
from learnerledger.domain.learner import Address
from learnerledger.merge import decide, find_duplicates_job
from learnerledger.store import links
from learnerledger.sync import sync_learners
from merge.test_duplicates import STREET
from sandbox_documents import Books, line
from sync.test_sync_learners import ROOMY, make_learner, put_learners

WATTLE = Address("14 Wattle St", "Parramatta", "NSW", "2150", "Australia")


@dataclass
class Org:
    setup: ConnectedXero
    books: Books
    legacy: dict[str, str] = field(default_factory=dict)  # RefInternal -> legacy ContactID

    @property
    def sandbox(self) -> XeroSandbox:
        return self.setup.sandbox

    def survivor(self, ref: str) -> str:
        with self.setup.store.read() as conn:
            linked, _ = links.load_links(conn, self.setup.connection.id)
        return linked[ref]

    def contact(self, contact_id: str) -> dict[str, Any]:
        return dict(self.books.get("Contacts", contact_id))

    def documents(self, contact_id: str) -> dict[str, tuple[str, Decimal]]:
        """What the API says a contact holds: id -> (status, open amount)."""
        found: dict[str, tuple[str, Decimal]] = {}
        for collection, id_field, open_field in (
            ("Invoices", "InvoiceID", "AmountDue"),
            ("CreditNotes", "CreditNoteID", "RemainingCredit"),
            ("Prepayments", "PrepaymentID", "RemainingCredit"),
            ("Overpayments", "OverpaymentID", "RemainingCredit"),
        ):
            where = f'Contact.ContactID==Guid("{contact_id}")'
            params = {"where": where, "page": 1, "pageSize": 1000}
            response = self.books.http.get(f"/{collection}", params=params)
            for doc in self.books.json(response)[collection]:
                found[doc[id_field]] = (doc["Status"], doc[open_field])
        return found

    def invoices(self, contact_id: str, n: int, *, drafts_every: int = 0) -> None:
        """``n`` approved invoices (every ``drafts_every``-th a draft) on one contact, written
        50 to a request."""
        for first in range(0, n, 50):
            items = [
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": contact_id},
                    "Date": "2026-10-01",
                    "DueDate": "2026-10-31",
                    "Status": "DRAFT" if drafts_every and i % drafts_every == 0 else "AUTHORISED",
                    "LineItems": [line(str(5 + i))],
                }
                for i in range(first, min(n, first + 50))
            ]
            assert self.books.put("/Invoices", "Invoices", *items).status_code == 200

    def payments(self) -> dict[str, str]:
        """Every payment of the organisation: id -> status (deleted ones included)."""
        with self.sandbox.store.read() as conn:
            rows = conn.execute("SELECT payment_id, status FROM payments").fetchall()
        return {r["payment_id"]: r["status"] for r in rows}

    def merge_in_xero(self, source: str, target: str, **how: str) -> httpx.Response:
        """What a person does on Xero's contact page: Merge ``source`` into ``target`` (a
        ContactID, or with ``by_name`` the Name typed in the form)."""
        url = (
            f"{self.sandbox.url}/sandbox/organisations/{self.sandbox.tenant_id}/contacts/"
            f"{source}/merge"
        )
        if how.get("by_name"):
            return httpx.post(url, data={"target": how["by_name"]})
        return httpx.post(url, json={"TargetContactID": target})


def organisation(make_xero_sandbox: Any, connect_xero: Any, **settings: Any) -> Org:
    """Felicity Jones (DAU0000001) has a hand-typed legacy contact "JONES, Felicity"; Priya
    Natarajan (DAU0000002) has none. Both are synced in duplicate mode."""
    limits = settings.pop("limits", ROOMY)
    sandbox: XeroSandbox = make_xero_sandbox(limits=limits)
    setup: ConnectedXero = connect_xero(sandbox, **settings)
    books = Books(sandbox, sandbox.http())
    org = Org(setup, books)
    org.legacy["DAU0000001"] = books.contact(
        "JONES, Felicity", EmailAddress="Felicity.Jones@Example.com", Addresses=[STREET]
    )
    return org


def sync_and_confirm(org: Org, *learners: Any) -> None:
    """Sync the learners in duplicate mode, find the pairs, confirm the legacy ones."""
    setup = org.setup
    put_learners(
        setup.store,
        *(
            learners
            or (
                make_learner("DAU0000001", email="felicity.jones@example.com", street=WATTLE),
                make_learner("DAU0000002", first="Priya", last="Natarajan", street=WATTLE),
            )
        ),
    )
    with setup.client() as client:
        synced = sync_learners(setup.store, client, mode="duplicate")
        assert synced.status == "succeeded", synced.message
        found = find_duplicates_job(setup.store, client)
        assert found.status == "succeeded", found.message
    for ref, contact_id in org.legacy.items():
        assert decide(setup.store, setup.connection.id, "confirmed", pair=(ref, contact_id)) == 1
