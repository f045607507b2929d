"""`learnerledger demo`: the whole flow on the seeded sandboxes, its report checked against what
each sandbox holds (read over its own API), and a second run that finds nothing to do.

The demo runs once for the module (:func:`first`); the command line then runs it again over
the same books, and :func:`serving` runs it a third time in serve mode, so the sandboxes can be
read while they still serve. The books are compared with rules of the tests' own, not with
learnerledger's: a Xero invoice is a learner's when the contact it ends up on (following
MergedToContactID) carries the RefInternal of a learner flagged "Sync to Xero" in Wisenet as its
Contact Code, and the resync covers the year before the connection (made today) up to today.

The sandbox enforces the limits the settings give: the tests raise Xero's minute limit so that
no test waits out a rate-limit window (the demo at Xero's real limits is timed by hand, see the
README)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from learnerledger.config import load_config
from learnerledger.demo import _why_afresh, run_demo
from learnerledger.sandbox.seed import demo_people, legacy_contacts
from learnerledger.sources.wisenet import load_connection
from learnerledger.sources.wisenet import open_client as open_wisenet
from learnerledger.store import load_secret_box, open_store
from learnerledger.store.duplicates import list_pairs
from learnerledger.store.learners import iter_learners
from learnerledger.xero.client import CONTACT_DOCUMENT_STREAMS
from learnerledger.xero.client import open_client as open_xero
from learnerledger.xero.connections import find_connection

# The sandbox's limit flag (through the setting): no test sleeps through Xero's minute window.
FAST = {"xero_minute_limit": 100_000}
FAST_ENV = {"LEARNERLEDGER_XERO_MINUTE_LIMIT": "100000"}


@dataclass
class Demo:
    home: Path
    result: dict[str, Any]
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    home = tmp_path_factory.mktemp("state") / "demo"
    demo = Demo(home, {})
    demo.result = run_demo(home, port=0, echo=demo.lines.append, settings=FAST)
    return demo


def test_the_demo_runs_the_flow_end_to_end(first: Demo) -> None:
    result = first.result
    people = demo_people()
    flagged = sum(p.sync_to_xero for p in people)
    assert not result["again"]
    assert result["organisation"] == "Demo Training Co"
    assert result["contacts"] == len(legacy_contacts(people))
    assert result["learners"] == flagged
    sync, planned = result["sync"], result["planned"]
    assert sync["created"] == planned["create"]
    assert sync["adopted"] == planned["adopt"] > 0
    assert sync["failed"] == 0
    assert result["rerun_calls"] <= 2
    # The review was settled: every ready learner ended with a contact.
    assert result["final_sync"]["review"] == 0
    assert result["learners_synced"] == result["learners_ready"]
    assert result["confirmed"] == result["duplicates"]["auto"] > 0
    assert result["reviewed"]["confirmed"] > 0
    assert result["reviewed"]["rejected"] > 0
    assert result["resync_learners"]["adopted"] > 0
    assert result["merge"]["failed"] == 0
    assert result["merged_by_hand"] == result["merge"]["worklist"] > 0
    # Verify found the archived contacts that hold documents; the demo restored and merged them.
    assert result["restored"] > 0
    verify = result["verify"]
    assert verify["wrong_direction"] == verify["stopped"] == verify["conflict"] == 0
    assert verify["pending"] == verify["worklist"] == 0
    assert result["resync_status"] == "succeeded"
    assert result["resync"]["written"] > 0
    assert result["resync"]["refused"] == 0
    assert result["mismatches"] == 0
    assert result["reconciled"] > 0
    assert result["branding_ok"]
    assert 0 < result["xero_calls"] <= result["xero_used_today"]
    assert "nothing is sent" in first.text
    report = first.text[first.text.index("The report") :]
    for label in ("Learners synced", "Contacts", "Duplicates", "Merged", "Documents"):
        assert f"   {label}:" in report
    assert "Mismatches:      0 over" in report
    assert f"Xero {result['xero_calls']} this run" in report
    assert "Nothing new to do" not in report


def test_the_demo_command_runs_again_quickly_with_nothing_to_do(first: Demo) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "learnerledger",
            "--home",
            str(first.home.parent),
            "demo",
            "--no-serve",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **FAST_ENV},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "the flow runs over them again" in result.stdout
    assert "Nothing new to do" in result.stdout
    assert re.search(r"Contacts: +0 adopted, 0 created, 0 updated", result.stdout)
    # Off a terminal the progress bars draw nothing: the log keeps only the narration.
    assert "%" not in result.stderr


@dataclass
class Serving:
    demo: Demo
    sides: dict[str, Any]


def _xero_books(home: Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Every contact of the demo organisation, and every document of each contact stream,
    read from the Xero sandbox over its API."""
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    try:
        config = load_config(overrides={"home": str(home), **FAST}, environ={})
        with open_xero(store, config, connection=find_connection(store)) as xero:
            contacts = {c.contact_id: c for page in xero.iter_contacts() for c in page.records}
            documents = {
                stream: [d for page in xero.iter_documents(stream) for d in page.records]
                for stream in CONTACT_DOCUMENT_STREAMS
            }
    finally:
        store.close()
    return contacts, documents


def _wisenet_books(home: Path) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """Every learner (by LearnerId) and every invoice, read from the Wisenet sandbox."""
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    try:
        connection = load_connection(store, load_secret_box(home))
    finally:
        store.close()
    with open_wisenet(connection.base_url, connection.api_key) as wisenet:
        learners: dict[int, dict[str, Any]] = {}
        skip = 0
        while True:
            page = wisenet.list_page("/learnersAU", {"skip": skip, "take": 1000}).items
            for item in page:
                data = item.get("Data", item)
                learners[int(data["LearnerId"])] = data
            if len(page) < 1000:
                break
            skip += len(page)
        invoices = [i for page in wisenet.iter_invoices() for i in page]
    return learners, invoices


def _store_facts(home: Path) -> tuple[set[str], list[Any]]:
    """The learners learnerledger holds as ready for Xero, and the duplicate pairs people
    confirmed (the decisions are learnerledger's own record; what became of them is read from
    the sandbox)."""
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    try:
        with store.read() as conn:
            ready = {learner.ref_internal for learner in iter_learners(conn) if learner.ready}
        connection = find_connection(store)
        confirmed = [p for p in list_pairs(store, connection.id) if p.decision == "confirmed"]
    finally:
        store.close()
    return ready, confirmed


def _sign_in(text: str) -> httpx.Response:
    """The web UI's dashboard, opened with the demo sign-in the demo printed."""
    shown = re.search(r"finance staff: (\S+)/ \(sign in as demo, (\S+)\)\.", text)
    assert shown is not None, "the demo printed no sign-in"
    with httpx.Client(base_url=shown.group(1), timeout=30) as web:
        login = web.get("/login")
        name, token = re.findall(r'name="(csrf[^"]*)" value="([^"]*)"', login.text)[0]
        web.post("/login", data={"username": "demo", "password": shown.group(2), name: token})
        return web.get("/")


@pytest.fixture(scope="module")
def serving(first: Demo) -> Serving:
    """The demo run once more, serving: while both sandboxes and the web UI serve, read the
    books and open the dashboard, then stop it."""
    stop = threading.Event()
    demo = Demo(first.home, {})
    sides: dict[str, Any] = {}

    def echo(line: str) -> None:
        demo.lines.append(line)
        if "Press Ctrl-C" in line:
            try:
                sides["xero"] = _xero_books(first.home)
                sides["wisenet"] = _wisenet_books(first.home)
                sides["store"] = _store_facts(first.home)
                sides["seeded"] = _seeded_contact_ids(first.home)
                sides["dashboard"] = _sign_in(demo.text)
            finally:
                stop.set()

    demo.result = run_demo(first.home, port=0, serve=True, echo=echo, stop=stop, settings=FAST)
    return Serving(demo, sides)


def _owner(contacts: dict[str, Any], contact_id: str | None) -> Any:
    """The contact a contact ends up as, following MergedToContactID."""
    seen: set[str] = set()
    while contact_id in contacts and contact_id not in seen:
        seen.add(contact_id)
        contact = contacts[contact_id]
        if contact.merged_to is None:
            return contact
        contact_id = contact.merged_to
    return None


def test_every_ready_learner_has_exactly_one_contact_with_its_refinternal(
    first: Demo, serving: Serving
) -> None:
    contacts, _ = serving.sides["xero"]
    ready, _ = serving.sides["store"]
    learners, _ = serving.sides["wisenet"]
    flagged = {d["Personal"]["LearnerNumber"] for d in learners.values() if _flagged(d)}
    assert ready <= flagged
    assert len(ready) == first.result["learners_ready"]
    holding = Counter(
        c.contact_number
        for c in contacts.values()
        if c.status == "ACTIVE" and c.contact_number in flagged
    )
    assert {ref: n for ref, n in holding.items() if n != 1} == {}
    assert ready <= set(holding)
    assert len(ready) == first.result["learners_synced"]
    # What the report says was adopted, created and swapped is what Xero now holds. A contact
    # the first sync found by its Contact Code (updated or unchanged) was typed in with it; a
    # swap frees a contact the sync made and puts the Contact Code on the hand-typed one.
    seeded = serving.sides["seeded"]
    own = [c for c in contacts.values() if c.status == "ACTIVE" and c.contact_number in ready]
    hand_typed = sum(c.contact_id in seeded for c in own)
    swapped = first.result["merge"]["swapped"]
    coded = first.result["sync"]["updated"] + first.result["sync"]["unchanged"]
    assert hand_typed == first.result["adopted"] + swapped + coded
    assert len(own) - hand_typed == first.result["created"] - swapped
    # Learners not ready for Xero get no contact from learnerledger: any contact carrying their
    # RefInternal was typed in with it.
    others = [c for c in contacts.values() if c.contact_number in flagged - ready]
    assert all(c.contact_id in seeded for c in others)


def _flagged(data: dict[str, Any]) -> bool:
    return bool(data["Personal"].get("SyncToXero"))


def _seeded_contact_ids(home: Path) -> set[str]:
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    try:
        connection = find_connection(store)
        base, tenant = connection.base_url, connection.tenant_id
    finally:
        store.close()
    truth = httpx.get(f"{base}/sandbox/organisations/{tenant}/truth", timeout=30).json()
    return {row["contact_id"] for row in truth}


def test_no_confirmed_duplicate_is_left_unmerged(first: Demo, serving: Serving) -> None:
    contacts, documents = serving.sides["xero"]
    ready, confirmed = serving.sides["store"]
    assert len(confirmed) >= first.result["confirmed"] > 0
    holding: dict[str, list[str]] = defaultdict(list)
    for stream in documents.values():
        for doc in stream:
            if doc.status not in ("DELETED", "VOIDED"):
                holding[doc.contact_id].append(doc.document_id)
    own = {
        c.contact_number: c.contact_id
        for c in contacts.values()
        if c.status == "ACTIVE" and c.contact_number
    }
    waiting: set[str] = set()
    unmerged = []
    for pair in confirmed:
        survivor = own.get(pair.ref_internal)
        if pair.ref_internal not in ready:  # no merge before the learner is ready for Xero
            waiting.add(pair.ref_internal)
            continue
        legacy = contacts[pair.contact_id]
        if legacy.contact_id == survivor:
            continue  # adopted: the learner's contact is the hand-typed one
        end = _owner(contacts, legacy.contact_id)
        merged = end is not None and end.contact_id == survivor
        emptied = legacy.status == "ARCHIVED" and not holding.get(legacy.contact_id)
        if not (merged or emptied):
            unmerged.append((pair.ref_internal, legacy.name, legacy.status))
    assert unmerged == []
    # A confirmed pair waits only for a learner that is not ready for Xero, as the report says.
    assert waiting
    assert len(waiting) == first.result["verify"]["waiting"]
    assert f"{len(waiting)} merges wait for a learner that is not ready" in first.text


def _as_date(value: Any) -> date:
    return value if not isinstance(value, datetime) else value.date()


def _facts(number: Any, status: Any, total: Any, due: Any) -> tuple[Any, ...]:
    return (number, status, Decimal(str(total)), Decimal(str(due)))


def test_every_document_of_a_learner_is_in_wisenet_with_the_right_amounts(
    first: Demo, serving: Serving
) -> None:
    contacts, documents = serving.sides["xero"]
    learners, invoices = serving.sides["wisenet"]
    flagged = {d["Personal"]["LearnerNumber"] for d in learners.values() if _flagged(d)}
    today = datetime.now(UTC).date()
    start = today.replace(year=today.year - 1, day=min(today.day, 28))
    xero = {}
    for doc in documents["invoices"]:
        end = _owner(contacts, doc.contact_id)
        ref = end.contact_number if end is not None else None
        if doc.type != "ACCREC" or ref not in flagged or doc.date is None:
            continue
        if start <= _as_date(doc.date) <= today:
            facts = _facts(doc.number, doc.status, doc.total, doc.amount_due)
            xero[doc.document_id.casefold()] = (ref, facts)
    wisenet = {
        str(i["InvoiceId"]).casefold(): (
            learners[int(i["LearnerId"])]["Personal"]["LearnerNumber"],
            _facts(i["InvoiceNumber"], i["Status"], i["AmountTotal"], i["AmountDue"]),
        )
        for i in invoices
    }
    assert len(xero) > 100
    missing = sorted(set(xero) - set(wisenet))
    extra = sorted(set(wisenet) - set(xero))
    differ = sorted(k for k in set(xero) & set(wisenet) if xero[k] != wisenet[k])
    assert (missing, extra, differ) == ([], [], [])
    # The report's figures: every document written by the first run, unchanged on the others.
    assert first.result["resync"]["written"] == len(wisenet)
    assert serving.demo.result["resync"]["unchanged"] == len(wisenet)


def test_run_again_the_demo_finds_nothing_to_do_and_keeps_serving(serving: Serving) -> None:
    result = serving.demo.result
    assert result["again"]
    assert result["changed"] == 0
    assert "Nothing new to do" in serving.demo.text
    assert result["resync"]["wisenet_calls"] == 0
    # The printed demo sign-in opened the web UI's dashboard on the demo's store.
    dashboard = serving.sides["dashboard"]
    assert dashboard.status_code == 200
    assert "Demo Training Co" in dashboard.text


def test_the_demo_starts_afresh_when_its_books_cannot_be_reopened(tmp_path: Path) -> None:
    import socket

    assert _why_afresh(tmp_path, None) == "first run"
    assert _why_afresh(tmp_path, {"finished": None}) == "the last demo did not finish"
    state = {"finished": "2026-12-01 09:00", "ports": {"xero": 0, "wisenet": 0}}
    assert _why_afresh(tmp_path, state) == "learnerledger.db is missing"
    for name in ("learnerledger.db", "xero-sandbox.db", "wisenet-sandbox.db"):
        (tmp_path / name).touch()
    with socket.socket() as taken, socket.socket() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        free.bind(("127.0.0.1", 0))
        ports = {"xero": free.getsockname()[1], "wisenet": taken.getsockname()[1]}
        free.close()
        reason = _why_afresh(tmp_path, {**state, "ports": ports})
    assert reason == f"the wisenet sandbox's port {ports['wisenet']} is taken"
