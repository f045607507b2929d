"""The learner sync against an in-memory Xero that satisfies ``ContactSyncer``: the planner and
the applier need no HTTP. The end-to-end tests over HTTP are in ``test_sync_learners.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from learnerledger.errors import TransientError
from learnerledger.store import Store, history, links, load_secret_box, open_store
from learnerledger.store import duplicates as pairs_repo
from learnerledger.store.duplicates import FoundPair, StoredPair
from learnerledger.sync import sync_learners
from learnerledger.xero import (
    ContactSyncer,
    ItemResult,
    Page,
    RateBudget,
    TokenSet,
    XeroConnection,
)
from learnerledger.xero.client import Stream
from learnerledger.xero.connections import save_connection
from learnerledger.xero.wire import Contact, parse_contact
from sync.test_sync_learners import make_learner, put_learners


class MemoryXero:
    """Contacts in a dict, written the way Xero writes them (PUT refuses a taken Name), and
    read back page by page by UpdatedDateUTC. ``lose_next_answer`` applies the next write and
    then fails as if the answer had been lost on the way back."""

    def __init__(self, connection: XeroConnection, budget: RateBudget) -> None:
        self.connection = connection
        self.budget = budget
        self.calls = 0
        self.on_event: Any = None
        self.contacts: dict[str, dict[str, Any]] = {}
        self.clock_ms = 1_800_000_000_000
        self.lose_next_answer = False
        self.writes = 0

    @property
    def organisation(self) -> str:
        return self.connection.name

    @property
    def tenant_id(self) -> str:
        return self.connection.tenant_id

    def _stamp(self, raw: dict[str, Any]) -> None:
        self.clock_ms += 1000
        raw["UpdatedDateUTC"] = f"/Date({self.clock_ms}+0000)/"

    def _changed_since(self, since_ms: int | None) -> list[Contact]:
        found = [parse_contact(raw) for raw in self.contacts.values()]
        if since_ms is not None:
            floor = since_ms - since_ms % 1000
            found = [c for c in found if c.updated.timestamp() * 1000 >= floor]
        return sorted(found, key=lambda c: c.contact_id)

    def iter_pages(
        self,
        stream: Stream[Any],
        *,
        modified_since_ms: int | None = None,
        where: str | None = None,
        page_size: int = 100,
        start_page: int = 1,
    ) -> Iterator[Page[Any]]:
        self.calls += 1
        records = self._changed_since(modified_since_ms)
        yield Page(records, [], len(records), modified_since_ms, 1, self.clock_ms)

    def get_contacts(self, contact_ids: Sequence[str]) -> Page[Contact]:
        self.calls += 1
        return Page([parse_contact(self.contacts[i]) for i in contact_ids], [], None)

    def count_changed_contacts(self, modified_since_ms: int) -> int:
        self.calls += 1
        return len(self._changed_since(modified_since_ms))

    def _answer(self, results: list[ItemResult[Contact]]) -> list[ItemResult[Contact]]:
        self.calls += 1
        self.writes += 1
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise TransientError("The answer was lost.")
        return results

    def create_contacts(
        self, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Contact]]:
        results = []
        for n, item in enumerate(items):
            taken = {str(c.get("Name", "")).casefold() for c in self.contacts.values()}
            if str(item.get("Name", "")).casefold() in taken:
                message = f"The contact name {item['Name']} is already assigned to another contact."
                results.append(ItemResult(n, "ERROR", None, None, [message], [], item))
                continue
            raw = {**item, "ContactID": str(uuid.uuid4()), "ContactStatus": "ACTIVE"}
            self._stamp(raw)
            self.contacts[raw["ContactID"]] = raw
            contact = parse_contact(raw)
            results.append(ItemResult(n, "OK", contact, contact.contact_id, [], [], item))
        return self._answer(results)

    def update_contacts(
        self, items: Sequence[Mapping[str, Any]], idempotency_key: str
    ) -> list[ItemResult[Contact]]:
        results = []
        for n, item in enumerate(items):
            raw = self.contacts[str(item["ContactID"])]
            raw.update(item)
            self._stamp(raw)
            contact = parse_contact(raw)
            results.append(ItemResult(n, "OK", contact, contact.contact_id, [], [], item))
        return self._answer(results)


def _memory_xero(store: Store, tmp_path: Path) -> MemoryXero:
    connection = save_connection(
        store,
        load_secret_box(tmp_path / "home", environ={}),
        tenant_id="00000000-0000-4000-8000-000000000001",
        name="Memory Training Co",
        base_url="http://127.0.0.1:1",
        tokens=TokenSet("custom_connection", "id", "secret"),
    )
    xero = MemoryXero(connection, RateBudget(store, connection.id, organisation=connection.name))
    syncer: ContactSyncer = xero  # what the sync takes: checked by mypy and at run time
    assert isinstance(syncer, ContactSyncer)
    return xero


def _numbers(xero: MemoryXero) -> list[str]:
    return sorted(str(c.get("ContactNumber")) for c in xero.contacts.values())


def test_a_sync_creates_each_learner_once_and_a_rerun_sends_nothing(
    store: Store, tmp_path: Path
) -> None:
    xero = _memory_xero(store, tmp_path)
    put_learners(store, make_learner("DAU1"), make_learner("DAU2"), make_learner("DAU3", first=""))
    first = sync_learners(store, xero)
    assert first.status == "succeeded", first.message
    assert (first.created, first.failed) == (2, 0)
    assert _numbers(xero) == ["DAU1", "DAU2"]
    assert first.run_id is not None
    run = history.get_run(store, first.run_id)
    assert run is not None
    assert [(p["record"], p["code"]) for p in run.problems] == [("DAU3", "missing_first_name")]
    writes = xero.writes
    again = sync_learners(store, xero)
    assert again.status == "succeeded"
    assert (again.created, again.updated) == (0, 0)
    assert again.plan.totals()["unchanged"] == 2
    assert xero.writes == writes


def test_a_lost_answer_is_settled_by_what_xero_holds_not_sent_twice(
    store: Store, tmp_path: Path
) -> None:
    xero = _memory_xero(store, tmp_path)
    put_learners(store, *(make_learner(f"DAU{n}") for n in range(60)))
    xero.lose_next_answer = True  # the first batch of 50 is written, its answer lost
    report = sync_learners(store, xero)
    assert report.status == "succeeded", report.message
    assert report.created == 60
    assert _numbers(xero) == sorted(f"DAU{n}" for n in range(60))  # exactly one each
    assert xero.writes == 2  # the lost batch was looked up, not sent again


def test_an_edit_in_the_sms_sends_only_the_changed_field(store: Store, tmp_path: Path) -> None:
    xero = _memory_xero(store, tmp_path)
    put_learners(store, make_learner("DAU1"))
    sync_learners(store, xero)
    put_learners(store, make_learner("DAU1", email="felicity@example.org"))
    sent: list[Mapping[str, Any]] = []
    update = xero.update_contacts

    def spy(items: Sequence[Mapping[str, Any]], key: str) -> list[ItemResult[Contact]]:
        sent.extend(items)
        return update(items, key)

    xero.update_contacts = spy  # type: ignore[method-assign]
    report = sync_learners(store, xero)
    assert report.updated == 1
    (item,) = sent
    assert set(item) == {"ContactID", "EmailAddress"}
    assert item["EmailAddress"] == "felicity@example.org"


def test_a_refused_item_is_a_problem_with_its_fix_and_the_rest_go_through(
    store: Store, tmp_path: Path
) -> None:
    xero = _memory_xero(store, tmp_path)
    put_learners(store, make_learner("DAU1"), make_learner("DAU2"))
    # Someone types the learner's Name into Xero after the plan read the contacts.
    create = xero.create_contacts

    def racing(items: Sequence[Mapping[str, Any]], key: str) -> list[ItemResult[Contact]]:
        squatter = {"ContactID": str(uuid.uuid4()), "Name": "Felicity Jones DAU2"}
        squatter["ContactStatus"] = "ACTIVE"
        xero._stamp(squatter)
        xero.contacts[squatter["ContactID"]] = squatter
        return create(items, key)

    xero.create_contacts = racing  # type: ignore[method-assign]
    report = sync_learners(store, xero)
    assert (report.created, report.failed) == (1, 1)
    assert report.run_id is not None
    run = history.get_run(store, report.run_id)
    assert run is not None
    (problem,) = run.problems
    assert (problem["record"], problem["code"]) == ("DAU2", "name_taken")
    assert "merge it into the learner's contact in Xero" in problem["message"]


# Mode adopt: a learner without a contact takes over the hand-typed one that is unambiguously
# it; a possible match waits for a person's decision.


def _legacy(xero: MemoryXero, name: str, **fields: Any) -> str:
    raw = {"ContactID": str(uuid.uuid4()), "Name": name, "ContactStatus": "ACTIVE", **fields}
    xero._stamp(raw)
    xero.contacts[raw["ContactID"]] = raw
    return str(raw["ContactID"])


def _linked(store: Store, xero: MemoryXero) -> dict[str, str]:
    with store.read() as conn:
        return links.load_links(conn, xero.connection.id)[0]


def _pairs(store: Store, xero: MemoryXero) -> dict[tuple[str, str], StoredPair]:
    return {
        (p.ref_internal, p.contact_id): p for p in pairs_repo.list_pairs(store, xero.connection.id)
    }


def test_adopt_review_then_decisions_on_either_store(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    try:
        xero = _memory_xero(store, tmp_path)
        felicity = _legacy(
            xero, "JONES, Felicity", EmailAddress="DAU1@Example.com", AccountNumber="DEB-7"
        )
        sam = _legacy(xero, "Sam Nguyen")
        olly = _legacy(xero, "SMITH, Oliver")
        put_learners(
            store,
            make_learner("DAU1"),
            make_learner("DAU2", first="Samantha", last="Nguyen"),
            make_learner("DAU3", first="Oliver", last="Smith"),
            make_learner("DAU4", first="Priya", last="Natarajan"),
        )
        # A pair another run recorded for someone else is not the sync's to forget.
        pairs_repo.save_found(
            store, xero.connection.id, [FoundPair("DAU9", olly, None, 0.7, "review")]
        )
        first = sync_learners(store, xero, mode="adopt")
        assert first.status == "succeeded", first.message
        states = {i.ref_internal: i.state for i in first.plan.items}
        assert states == {"DAU1": "adopt", "DAU2": "review", "DAU3": "review", "DAU4": "create"}
        assert (first.adopted, first.created, first.counts()["review"]) == (1, 1, 2)
        assert len(xero.contacts) == 4  # three hand-typed contacts and DAU4's new one
        adopted = xero.contacts[felicity]
        assert (adopted["ContactNumber"], adopted["Name"]) == ("DAU1", "Felicity Jones DAU1")
        assert adopted["AccountNumber"] == "DEB-7"
        assert _linked(store, xero)["DAU1"] == felicity
        assert "DAU2" not in _linked(store, xero)
        pairs = _pairs(store, xero)
        assert {k for k in pairs if k[0] != "DAU9"} == {("DAU2", sam), ("DAU3", olly)}
        assert ("DAU9", olly) in pairs
        assert pairs["DAU2", sam].decision is None
        assert first.run_id is not None
        run = history.get_run(store, first.run_id)
        assert run is not None
        waiting = {p["record"] for p in run.problems if p["code"] == "possible_matches"}
        assert waiting == {"DAU2", "DAU3"}

        # Nothing decided yet: the learners keep waiting and nothing is sent.
        writes = xero.writes
        still = sync_learners(store, xero, mode="adopt")
        assert still.counts()["review"] == 2
        assert xero.writes == writes

        pairs_repo.decide(store, xero.connection.id, [("DAU2", sam)], "confirmed")
        pairs_repo.decide(store, xero.connection.id, [("DAU3", olly)], "rejected")
        second = sync_learners(store, xero, mode="adopt")
        states = {i.ref_internal: i.state for i in second.plan.items}
        assert states == {
            "DAU1": "unchanged",
            "DAU2": "adopt",
            "DAU3": "create",
            "DAU4": "unchanged",
        }
        assert (second.adopted, second.created) == (1, 1)
        assert xero.contacts[sam]["ContactNumber"] == "DAU2"
        assert xero.contacts[olly].get("ContactNumber") is None  # rejected: left alone
        assert set(_linked(store, xero)) == {"DAU1", "DAU2", "DAU3", "DAU4"}
        assert _pairs(store, xero)["DAU3", olly].decision == "rejected"
        assert _numbers(xero) == ["DAU1", "DAU2", "DAU3", "DAU4", "None"]

        writes = xero.writes
        again = sync_learners(store, xero, mode="adopt")
        assert again.plan.totals()["unchanged"] == 4
        assert xero.writes == writes
    finally:
        store.close()


FIRST = {"DAU0": "Ada", "DAU1": "Grace", "DAU2": "Alan"}  # a word with a digit is no name
LAST = {"DAU0": "Lovelace", "DAU1": "Hopper", "DAU2": "Turing"}


def test_an_adopt_whose_answer_is_lost_is_settled_not_sent_twice(
    store: Store, tmp_path: Path
) -> None:
    xero = _memory_xero(store, tmp_path)
    refs = [f"DAU{n}" for n in range(3)]
    legacy = {
        r: _legacy(xero, f"{r} Hand Typed", EmailAddress=f"{r.lower()}@example.com") for r in refs
    }
    put_learners(store, *(make_learner(r, first=FIRST[r], last=LAST[r]) for r in refs))
    for r, contact_id in legacy.items():
        xero.contacts[contact_id]["Name"] = f"{FIRST[r]} {LAST[r]}"
    xero.lose_next_answer = True
    report = sync_learners(store, xero, mode="adopt")
    assert report.status == "succeeded", report.message
    assert report.adopted == 3
    assert xero.writes == 1  # looked up, found done: not sent again
    assert _numbers(xero) == sorted(refs)
    assert _linked(store, xero) == legacy


def test_adopts_and_updates_go_in_the_same_batch(store: Store, tmp_path: Path) -> None:
    xero = _memory_xero(store, tmp_path)
    put_learners(store, make_learner("DAU1"))
    sync_learners(store, xero)
    old = _legacy(xero, "Sam Nguyen", EmailAddress="dau2@example.com")
    put_learners(
        store,
        make_learner("DAU1", email="felicity@example.org"),
        make_learner("DAU2", first="Sam", last="Nguyen"),
    )
    sent: list[list[Mapping[str, Any]]] = []
    update = xero.update_contacts

    def spy(items: Sequence[Mapping[str, Any]], key: str) -> list[ItemResult[Contact]]:
        sent.append(list(items))
        return update(items, key)

    xero.update_contacts = spy  # type: ignore[method-assign]
    report = sync_learners(store, xero, mode="adopt")
    assert (report.updated, report.adopted, report.created) == (1, 1, 0)
    (batch,) = sent
    assert {item["ContactID"] for item in batch} == {old, _linked(store, xero)["DAU1"]}
    assert report.plan.calls == 2  # one batch, one check


def test_adopt_mode_uses_the_settings_calibration_stored(store: Store, tmp_path: Path) -> None:
    from learnerledger.matching import MatchSettings
    from learnerledger.store.duplicates import save_fitted_settings

    xero = _memory_xero(store, tmp_path)
    refs = ["DAU0", "DAU1", "DAU2"]
    legacy = {
        r: _legacy(xero, f"{r} Hand Typed", EmailAddress=f"{r.lower()}@example.com") for r in refs
    }
    put_learners(store, *(make_learner(r, first=FIRST[r], last=LAST[r]) for r in refs))
    for r, contact_id in legacy.items():
        xero.contacts[contact_id]["Name"] = f"{FIRST[r]} {LAST[r]}"
    strict = {**MatchSettings().as_json(), "auto": 1.0, "review": 1.0}  # nothing is sure enough
    save_fitted_settings(store, xero.connection.id, strict)
    plan = sync_learners(store, xero, mode="adopt", dry_run=True).plan
    assert plan.totals()["adopt"] == 0
    save_fitted_settings(store, xero.connection.id, MatchSettings().as_json())
    assert sync_learners(store, xero, mode="adopt", dry_run=True).plan.totals()["adopt"] == 3
