"""After the demo, what each sandbox holds, read over its own API, agrees learner by learner.

This does not use learnerledger's reconciliation: it reads every sales invoice from the Xero
sandbox and every invoice from the Wisenet sandbox and compares them with a rule of its own. A
Xero invoice is a learner's when the contact it ends up on (following MergedToContactID) carries
the RefInternal of a learner with Sync to Xero ticked in Wisenet (the learners the integration
covers) as its Contact Code; the resync covers the year before the connection (made today, by
the demo) up to today. Each such invoice must be in Wisenet on that learner with
the same number, status and amounts, and Wisenet must hold nothing else."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from learnerledger.config import load_config
from learnerledger.demo import run_demo
from learnerledger.sources.wisenet import load_connection
from learnerledger.sources.wisenet import open_client as open_wisenet
from learnerledger.store import load_secret_box, open_store
from learnerledger.xero.client import open_client as open_xero
from learnerledger.xero.connections import find_connection


def _xero_side(
    home: Path, start: Any, end: Any, learners: set[str]
) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """InvoiceID -> (RefInternal, facts) of every learner's sales invoice in the range."""
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    try:
        config = load_config(overrides={"home": str(home)}, environ={})
        with open_xero(store, config, connection=find_connection(store)) as xero:
            contacts = {c.contact_id: c for page in xero.iter_contacts() for c in page.records}
            invoices = [d for page in xero.iter_documents("invoices") for d in page.records]
    finally:
        store.close()

    def owner(contact_id: str | None) -> str | None:
        seen: set[str] = set()
        while contact_id and contact_id in contacts and contact_id not in seen:
            seen.add(contact_id)
            contact = contacts[contact_id]
            if contact.merged_to is None:
                return contact.contact_number
            contact_id = contact.merged_to
        return None

    side = {}
    for doc in invoices:
        ref = owner(doc.contact_id)
        if doc.type != "ACCREC" or ref not in learners or doc.date is None:
            continue
        if not start <= _as_date(doc.date) <= end:
            continue
        side[doc.document_id] = (ref, _facts(doc.number, doc.status, doc.total, doc.amount_due))
    return side


def _as_date(value: Any) -> Any:
    return value if not isinstance(value, datetime) else value.date()


def _facts(number: Any, status: Any, total: Any, due: Any) -> tuple[Any, ...]:
    return (number, status, Decimal(str(total)), Decimal(str(due)))


def _wisenet_side(home: Path) -> tuple[set[str], dict[str, tuple[str, tuple[Any, ...]]]]:
    """The RefInternals of the learners flagged for Xero, and InvoiceId -> (RefInternal,
    facts) of every invoice Wisenet holds."""
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    try:
        connection = load_connection(store, load_secret_box(home))
    finally:
        store.close()
    with open_wisenet(connection.base_url, connection.api_key) as wisenet:
        learners: dict[int, str] = {}
        flagged: set[str] = set()
        skip = 0
        while True:
            page = wisenet.list_page("/learnersAU", {"skip": skip, "take": 1000}).items
            for item in page:
                data = item.get("Data", item)
                learners[int(data["LearnerId"])] = data["Personal"]["LearnerNumber"]
                if data["Personal"].get("SyncToXero"):
                    flagged.add(data["Personal"]["LearnerNumber"])
            if len(page) < 1000:
                break
            skip += len(page)
        invoices = [i for page in wisenet.iter_invoices() for i in page]
    return flagged, {
        str(i["InvoiceId"]).casefold(): (
            learners[int(i["LearnerId"])],
            _facts(i["InvoiceNumber"], i["Status"], i["AmountTotal"], i["AmountDue"]),
        )
        for i in invoices
    }


@pytest.mark.slow
def test_after_the_demo_wisenet_holds_each_learners_invoices_as_xero_does(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    stop = threading.Event()
    sides: dict[str, Any] = {}

    def echo(line: str) -> None:
        if "Press Ctrl-C" in line:  # the flow is done and both sandboxes still serve
            today = datetime.now(UTC).date()
            start = today.replace(
                year=today.year - 1, day=min(today.day, 28 if today.month == 2 else 31)
            )
            flagged, sides["wisenet"] = _wisenet_side(home)
            sides["xero"] = _xero_side(home, start, today, flagged)
            stop.set()

    run_demo(home, port=0, serve=True, echo=echo, stop=stop)
    xero = {k.casefold(): v for k, v in sides["xero"].items()}
    wisenet = sides["wisenet"]
    assert len(xero) > 100
    missing = sorted(set(xero) - set(wisenet))
    extra = sorted(set(wisenet) - set(xero))
    differ = sorted(k for k in set(xero) & set(wisenet) if xero[k] != wisenet[k])
    assert (missing, extra, differ) == ([], [], [])
