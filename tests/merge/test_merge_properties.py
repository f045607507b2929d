"""A property of the whole merge: for random clusters with documents in random states (draft,
approved, part paid, paid, voided, deleted, credits allocated or not, prepayments), after plan,
apply, the worklist's merges done in Xero and verify, every document of the cluster ends on the
learner's contact, the outstanding total is what it was, and no payment was deleted.

The money is counted straight from the Xero sandbox, not by learnerledger's own check. One
sandbox serves every example (each its own organisation's contacts and a fresh store)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import XeroSandbox, start_xero_sandbox
from learnerledger.config import load_config
from learnerledger.merge import merge_apply, merge_verify
from learnerledger.sandbox.xero import Limits
from learnerledger.store import Store, links, load_secret_box, open_store
from learnerledger.store import duplicates as pairs_repo
from learnerledger.store.duplicates import FoundPair
from learnerledger.sync import sync_learners
from learnerledger.xero import connect_custom, open_client
from sandbox_documents import Books, line
from sync.test_sync_learners import make_learner, put_learners

pytestmark = pytest.mark.slow

STATES = (
    "draft",
    "submitted",
    "authorised",
    "part_paid",
    "paid",
    "voided",
    "deleted",
    "credit",
    "credit_allocated",
    "prepayment",
)
documents = st.lists(
    st.tuples(st.sampled_from(STATES), st.integers(min_value=2, max_value=900)), max_size=4
)
clusters = st.tuples(
    st.lists(documents, min_size=1, max_size=2),  # the legacy contacts
    st.lists(st.tuples(st.sampled_from(("draft", "authorised")), st.integers(2, 900)), max_size=1),
)
_refs = itertools.count(1)


def _make(books: Books, contact: str, state: str, amount: int) -> None:
    value = f"{amount}.{amount % 100:02d}"
    if state in ("draft", "submitted", "authorised"):
        books.invoice(contact, line(value), status=state.upper())
    elif state == "part_paid":
        books.pay(books.invoice(contact, line(value))["InvoiceID"], "1.00")
    elif state == "paid":
        books.pay(books.invoice(contact, line(value))["InvoiceID"], value)
    elif state == "voided":
        invoice = books.invoice(contact, line(value))
        assert books.update("Invoices", invoice["InvoiceID"], Status="VOIDED").status_code == 200
    elif state == "deleted":
        invoice = books.invoice(contact, line(value), status="DRAFT")
        assert books.update("Invoices", invoice["InvoiceID"], Status="DELETED").status_code == 200
    elif state == "credit":
        books.credit_note(contact, line(value))
    elif state == "credit_allocated":
        invoice = books.invoice(contact, line(str(amount + 5)))
        credit = books.credit_note(contact, line(value))
        books.allocate(credit["CreditNoteID"], invoice["InvoiceID"], value)
    else:
        books.receive("PREPAYMENT", contact, value)


def _holdings(books: Books, contacts: list[str]) -> tuple[dict[str, str], dict[str, str], Decimal]:
    """Document -> its contact, document -> its status, and what approved sales invoices owe,
    over ``contacts``."""
    where = " OR ".join(f'Contact.ContactID==Guid("{c}")' for c in contacts)
    owner: dict[str, str] = {}
    status: dict[str, str] = {}
    owed = Decimal("0")
    for collection, id_field in (
        ("Invoices", "InvoiceID"),
        ("CreditNotes", "CreditNoteID"),
        ("Prepayments", "PrepaymentID"),
        ("Overpayments", "OverpaymentID"),
    ):
        params = {"where": where, "page": 1, "pageSize": 1000}
        for doc in books.json(books.http.get(f"/{collection}", params=params))[collection]:
            owner[doc[id_field]] = doc["Contact"]["ContactID"]
            status[doc[id_field]] = doc["Status"]
            if (
                collection == "Invoices"
                and doc["Type"] == "ACCREC"
                and doc["Status"] == "AUTHORISED"
            ):
                owed += doc["AmountDue"]
    return owner, status, owed


def _live_payments(sandbox: XeroSandbox) -> set[str]:
    with sandbox.store.read() as conn:
        rows = conn.execute("SELECT payment_id FROM payments WHERE status = 'AUTHORISED'")
        return {r["payment_id"] for r in rows}


@contextmanager
def _organisation(sandbox: XeroSandbox, root: Path) -> Iterator[tuple[Store, Any, Any]]:
    home = root / f"home-{next(_refs)}"
    store = open_store(f"sqlite:///{home}.db")
    config = load_config(overrides={"home": str(home), "xero_timeout": 10}, environ={})
    connection = connect_custom(
        store,
        load_secret_box(home),
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        base_url=sandbox.url,
    )
    try:
        yield store, config, connection
    finally:
        store.close()


def test_money_is_conserved_and_no_payment_is_deleted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("merge-properties")
    sandbox = start_xero_sandbox(root / "xero.db", limits=Limits(minute=10**6, day=10**7))
    books = Books(sandbox, sandbox.http())

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(clusters)
    def check(cluster: tuple[list[list[tuple[str, int]]], list[tuple[str, int]]]) -> None:
        legacy_docs, survivor_docs = cluster
        n = next(_refs)
        ref = f"PRP{n:07d}"
        with _organisation(sandbox, root) as (store, config, connection):

            def client() -> Any:
                clock = sandbox.clock
                return open_client(
                    store, config, connection=connection, clock=clock.now, sleep=clock.advance
                )

            legacy = []
            for i, docs in enumerate(legacy_docs):
                contact = books.contact(f"Legacy {n} {i}")
                legacy.append(contact)
                for state, amount in docs:
                    _make(books, contact, state, amount)
            put_learners(store, make_learner(ref, first=f"Learner{n}", last="Prop"))
            with client() as c:
                assert sync_learners(store, c).created == 1
            with store.read() as conn:
                survivor = links.load_links(conn, connection.id)[0][ref]
            for state, amount in survivor_docs:
                _make(books, survivor, state, amount)
            pairs_repo.save_found(
                store,
                connection.id,
                [FoundPair(ref, contact, survivor, 0.99, "auto") for contact in legacy],
            )
            pairs_repo.decide(store, connection.id, [(ref, c) for c in legacy], "confirmed")
            everyone = [survivor, *legacy]
            before, _, owed_before = _holdings(books, everyone)
            payments_before = _live_payments(sandbox)

            with client() as c:
                applied = merge_apply(store, c)
                assert applied.status == "succeeded", applied.message
                for item in applied.worklist:
                    url = (
                        f"{sandbox.url}/sandbox/organisations/{sandbox.tenant_id}/contacts/"
                        f"{item.legacy_id}/merge"
                    )
                    merged = httpx.post(url, data={"target": item.survivor_name})
                    assert merged.status_code == 303, merged.text
                verified = merge_verify(store, c)
            assert verified.status == "succeeded", verified.message
            assert [v.state for v in verified.clusters] == ["done"]

            with store.read() as conn:
                target = links.load_links(conn, connection.id)[0][ref]
            after, statuses, owed_after = _holdings(books, everyone)
            assert set(after) == set(before)  # no document left the cluster
            # All of it on the learner's contact; a DELETED draft needs no move (it carries no
            # money) and stays where it was unless Xero's Merge took it along.
            moved = {doc: owner for doc, owner in after.items() if statuses[doc] != "DELETED"}
            assert set(moved.values()) <= {target}
            assert owed_after == owed_before
            assert payments_before <= _live_payments(sandbox)  # no payment deleted
            for contact in everyone:
                status = books.get("Contacts", contact)["ContactStatus"]
                assert status == ("ACTIVE" if contact == target else "ARCHIVED")

    try:
        check()
    finally:
        sandbox.close()
        sandbox.server.stop()
        problems = sandbox.recorder.check()
        sandbox.store.close()
    assert not problems, "\n".join(problems)
