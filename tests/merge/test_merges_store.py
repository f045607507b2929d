"""The merge journal, the clusters' state and the absorbed links, on SQLite and on PostgreSQL:
the repositories on their own, then a whole merge (apply, Xero's Merge, verify) with the
store on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from learnerledger.merge import merge_apply, merge_verify
from learnerledger.store import Store, history, journal, links, load_secret_box, merges, open_store
from learnerledger.store.journal import NewStep
from learnerledger.store.merges import NewMergeStep
from learnerledger.xero.connections import TokenSet, save_connection
from merge.scenario import organisation, sync_and_confirm
from sandbox_documents import line


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """Every test here, the whole merges included, runs on SQLite and on PostgreSQL."""
    s = open_store(store_url)
    yield s
    s.close()


def _connection(store: Store, tmp_path: Path) -> int:
    return save_connection(
        store,
        load_secret_box(tmp_path / "home-repo", environ={}),
        tenant_id="t-1",
        name="Org",
        base_url="http://127.0.0.1:1",
        tokens=TokenSet("custom_connection", "id", "secret"),
    ).id


def _step(action: str, target: str, ref: str = "DAU1") -> NewMergeStep:
    stream = "invoices" if action == "move" else "contacts"
    return NewMergeStep(ref, action, stream, target, {"id": target}, f"key-{action}-{target}")


def test_steps_run_in_phases_and_each_ends_once(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    run = history.start_run(store, "merge apply", connection_id=cid)
    with store.transaction() as conn:
        merges.add_steps(conn, run, cid, [_step("move", "d1"), _step("free", "c1")])
        merges.add_steps(conn, run, cid, [_step("archive", "c2"), _step("adopt", "c3")])
    steps = merges.open_steps(store, run)
    assert [(s.action, s.phase) for s in steps] == [
        ("free", 1),
        ("adopt", 2),
        ("move", 3),
        ("archive", 4),
    ]
    assert sorted(s.seq for s in steps) == [0, 1, 2, 3]  # later steps follow the first ones
    assert merges.unfinished_runs(store, cid) == [run]
    free, adopt, move, archive = steps
    with store.transaction() as conn:
        merges.mark_sent(conn, [free, adopt], "key-1")
    sent = {s.action: s for s in merges.open_steps(store, run)}
    assert (sent["free"].status, sent["free"].attempts, sent["free"].batch_key) == (
        "sent",
        1,
        "key-1",
    )
    with store.transaction() as conn:
        merges.reopen(conn, [sent["adopt"]])
        merges.record_done(conn, sent["free"])
        merges.record_failed(conn, move, "Xero refused it.")
        merges.skip(conn, archive, "not needed")
    by_action = {s.action: s for s in merges.run_steps(store, run)}
    assert {a: s.status for a, s in by_action.items()} == {
        "free": "done",
        "adopt": "pending",
        "move": "failed",
        "archive": "skipped",
    }
    assert by_action["move"].error == "Xero refused it."
    assert by_action["adopt"].attempts == 1
    with store.transaction() as conn:
        merges.record_done(conn, by_action["adopt"])
    assert merges.open_steps(store, run) == []
    assert merges.unfinished_runs(store, cid) == []


def test_a_cluster_keeps_what_is_not_changed(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    run = history.start_run(store, "merge apply", connection_id=cid)
    with store.transaction() as conn:
        merges.put_cluster(
            conn, cid, "DAU1", state="applying", run_id=run, plan={"p": 1}, before={"b": 1}
        )
        merges.put_cluster(conn, cid, "DAU2", state="worklist", baseline={"x": 2})
    assert merges.unfinished_runs(store, cid) == [run]  # its documents are still to compare
    assert [c.ref_internal for c in merges.clusters_to_check(store, cid, run)] == ["DAU1"]
    with store.transaction() as conn:
        merges.put_cluster(conn, cid, "DAU1", state="checked", before=None, baseline={"a": 3})
    held = merges.load_clusters(store, cid)
    assert (held["DAU1"].state, held["DAU1"].plan, held["DAU1"].before) == (
        "checked",
        {"p": 1},
        None,
    )
    assert held["DAU1"].baseline == {"a": 3}
    assert held["DAU1"].run_id == run
    assert merges.unfinished_runs(store, cid) == []
    assert merges.count_clusters(store, states=("worklist",)) == 1
    with store.transaction() as conn:
        merges.put_cluster(conn, cid, "DAU1", state="stopped", before={"b": 1})
    assert merges.unfinished_runs(store, cid) == []  # a stopped cluster waits for a person


def test_absorbed_links_and_the_contacts_learnerledger_made(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    with store.transaction() as conn:
        links.link_contact(conn, cid, "DAU1", "own-1", mapped_hash=None, contact_updated_ms=None)
        assert links.absorb_contact(conn, cid, "DAU1", "legacy-1")
        assert links.absorb_contact(conn, cid, "DAU1", "legacy-1")  # again: still one row
        assert not links.absorb_contact(conn, cid, "DAU2", "own-1")  # a learner's own contact
    with store.read() as conn:
        assert links.load_absorbed(conn, cid) == {"legacy-1": "DAU1"}
        assert links.load_links(conn, cid)[0] == {"DAU1": "own-1"}
    assert links.count_linked(store, role="absorbed") == 1

    run = history.start_run(store, "sync learners", connection_id=cid)
    with store.transaction() as conn:
        journal.add_steps(
            conn,
            run,
            cid,
            [
                NewStep("DAU3", "create", {"Name": "A"}, "h", "k1"),
                NewStep("DAU4", "create", {"Name": "B"}, "h", "k2"),
            ],
        )
    with store.transaction() as conn:
        first, _ = journal.open_steps(conn, run)
        journal.record_done(conn, first, cid, "made-3", None)
    # Only finished creates count: the second step never reached Xero.
    assert merges.contacts_created_by_sync(store, cid) == {"made-3"}


def test_a_whole_merge_on_this_store(make_xero_sandbox: Any, connect_xero: Any) -> None:
    org = organisation(make_xero_sandbox, connect_xero)
    legacy = org.legacy["DAU0000001"]
    paid = org.books.invoice(legacy, line("300"))
    org.books.pay(paid["InvoiceID"], "100")
    org.books.invoice(legacy, line("40"), status="DRAFT")
    sync_and_confirm(org)
    survivor = org.survivor("DAU0000001")
    org.books.invoice(survivor, line("25"), status="DRAFT")  # no swap
    with org.setup.client() as client:
        applied = merge_apply(org.setup.store, client)
    assert applied.status == "succeeded", applied.message
    assert applied.moved == 1
    (item,) = applied.worklist
    assert org.merge_in_xero(legacy, "", by_name=item.survivor_name).status_code == 303
    with org.setup.client() as client:
        verified = merge_verify(org.setup.store, client)
    assert [c.state for c in verified.clusters] == ["done"]
    assert len(org.documents(survivor)) == 3
