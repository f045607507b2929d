"""The learner sync against an in-memory Xero that satisfies ``ContactSyncer``: the planner and
the applier need no HTTP. The end-to-end tests over HTTP are in ``test_sync_learners.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from learnerledger.errors import TransientError
from learnerledger.store import Store, history, load_secret_box
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
