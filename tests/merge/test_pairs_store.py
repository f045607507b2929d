"""The duplicate pairs' repository: what a run found, and people's decisions, which no later
run loses. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from learnerledger.store import Store, duplicates, load_secret_box, open_store
from learnerledger.store.duplicates import FoundPair
from learnerledger.xero.connections import TokenSet, save_connection


@pytest.fixture
def pairs_store(store_url: str, tmp_path: Path) -> Iterator[tuple[Store, int]]:
    s = open_store(store_url)
    connection = save_connection(
        s,
        load_secret_box(tmp_path / "home", environ={}),
        tenant_id="t-1",
        name="Org",
        base_url="http://127.0.0.1:1",
        tokens=TokenSet("custom_connection", "id", "secret"),
    )
    yield s, connection.id
    s.close()


def found(ref: str, contact: str, score: float, status: str = "auto") -> FoundPair:
    evidence = [{"field": "email", "outcome": "exact", "weight": 4.0}]
    return FoundPair(ref, contact, f"own-{ref}", score, status, evidence)


def test_pairs_are_stored_listed_and_filtered(pairs_store: tuple[Store, int]) -> None:
    store, cid = pairs_store
    saved = duplicates.save_found(
        store,
        cid,
        [
            found("DAU2", "c3", 0.7, "review"),
            found("DAU1", "c1", 0.99),
            found("DAU1", "c2", 0.6, "review"),
        ],
    )
    assert (saved.new, saved.updated, saved.forgotten) == (3, 0, 0)
    listed = duplicates.list_pairs(store, cid)
    assert [(p.ref_internal, p.contact_id) for p in listed] == [
        ("DAU1", "c1"),
        ("DAU1", "c2"),
        ("DAU2", "c3"),
    ]
    assert listed[0].evidence == [{"field": "email", "outcome": "exact", "weight": 4.0}]
    assert listed[0].as_json()["survivor_id"] == "own-DAU1"
    assert [p.contact_id for p in duplicates.list_pairs(store, cid, status="review")] == [
        "c2",
        "c3",
    ]
    assert [p.contact_id for p in duplicates.list_pairs(store, cid, min_score=0.65)] == ["c1", "c3"]
    assert duplicates.count_open(store) == 3


def test_decisions_survive_later_runs(pairs_store: tuple[Store, int]) -> None:
    store, cid = pairs_store
    duplicates.save_found(
        store,
        cid,
        [
            found("DAU1", "c1", 0.99),
            found("DAU1", "c2", 0.6, "review"),
            found("DAU2", "c3", 0.7, "review"),
        ],
    )
    assert duplicates.decide(store, cid, [("DAU1", "c1")], "confirmed") == 1
    assert duplicates.decide(store, cid, [("DAU2", "c3")], "rejected") == 1
    assert duplicates.decide(store, cid, [("DAU9", "nope")], "confirmed") == 0
    # The next run finds DAU1~c1 again with another score, and neither of the others.
    again = duplicates.save_found(store, cid, [found("DAU1", "c1", 0.95)])
    assert (again.new, again.updated, again.forgotten, again.kept_decided) == (0, 1, 1, 1)
    listed = {(p.ref_internal, p.contact_id): p for p in duplicates.list_pairs(store, cid)}
    assert set(listed) == {("DAU1", "c1"), ("DAU2", "c3")}  # the undecided c2 is forgotten
    assert listed[("DAU1", "c1")].decision == "confirmed"
    assert listed[("DAU1", "c1")].score == pytest.approx(0.95)
    assert listed[("DAU2", "c3")].shown_status == "rejected"
    assert listed[("DAU2", "c3")].found is False  # kept for its decision
    assert duplicates.count_open(store) == 0
    assert [p.contact_id for p in duplicates.list_pairs(store, cid, status="confirmed")] == ["c1"]


def test_an_unknown_decision_is_refused(pairs_store: tuple[Store, int]) -> None:
    store, cid = pairs_store
    with pytest.raises(ValueError, match="unknown decision"):
        duplicates.decide(store, cid, [("DAU1", "c1")], "maybe")
