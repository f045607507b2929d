"""``pull learners`` against the Wisenet sandbox over real HTTP: full and incremental pulls,
a learner changed, created or unflagged between pulls, a 429 in the middle, a spent day quota
that pauses the pull and a resumption the next day, learners leaving the list mid-pull."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import WisenetSandbox
from learnerledger.errors import WisenetAuthError
from learnerledger.jobs import ProgressEvent
from learnerledger.sources.wisenet import (
    PAGE_SIZE,
    PullResult,
    WisenetConnection,
    connect_wisenet,
    pull_learners,
)
from learnerledger.store import Store, load_secret_box
from learnerledger.store.learners import count_learners, get_learner, iter_learners
from learnerledger.store.tables import connections, runs


def connect(store: Store, sandbox: WisenetSandbox, tmp_path: Path) -> WisenetConnection:
    box = load_secret_box(tmp_path / "home", environ={})
    return connect_wisenet(store, box, api_key=sandbox.api_key, base_url=sandbox.url, check=False)


def flagged(sandbox: WisenetSandbox) -> dict[str, dict[str, Any]]:
    """The sandbox's learners with Sync to Xero ticked, by LearnerNumber."""
    with sandbox.sandbox.store.read() as conn:
        rows = conn.execute("SELECT data FROM learners WHERE sync_to_xero = 1").fetchall()
    records = [json.loads(r["data"]) for r in rows]
    return {r["Personal"]["LearnerNumber"]: r for r in records}


def stored(store: Store) -> dict[str, Any]:
    with store.read() as conn:
        return {learner.ref_internal: learner for learner in iter_learners(conn)}


def pull(store: Store, sandbox: WisenetSandbox, conn_id: int, **options: Any) -> PullResult:
    client = options.pop("client", None) or sandbox.client()
    return pull_learners(store, client, connection_id=conn_id, **options)


def test_a_full_pull_stores_every_flagged_learner(
    store: Store, wisenet_sandbox: WisenetSandbox, tmp_path: Path
) -> None:
    connection = connect(store, wisenet_sandbox, tmp_path)
    result = pull(store, wisenet_sandbox, connection.id)
    expected = flagged(wisenet_sandbox)
    assert result.status == "succeeded"
    assert result.full
    assert (result.read, result.inserted) == (len(expected), len(expected))
    assert result.calls == 1  # 511 learners fit one page
    local = stored(store)
    assert set(local) == set(expected)
    with store.read() as conn:
        counts = count_learners(conn)
        run = conn.execute(sa.select(runs).where(runs.c.id == result.run_id)).one()
    assert counts.learners == len(expected)
    assert counts.learners_ready == sum(1 for x in local.values() if x.ready)
    assert 0 < counts.learners_ready < counts.learners
    assert (run.job, run.status, run.connection_id) == ("pull learners", "succeeded", connection.id)
    assert run.counts["inserted"] == len(expected)
    priya = next(iter(local.values()))
    assert priya.source == "wisenet"
    assert priya.source_modified is not None
    assert priya.source_modified.tzinfo is not None


def test_incremental_pulls_read_only_what_changed(
    store: Store, wisenet_sandbox: WisenetSandbox, tmp_path: Path
) -> None:
    connection = connect(store, wisenet_sandbox, tmp_path)
    first = pull(store, wisenet_sandbox, connection.id)
    again = pull(store, wisenet_sandbox, connection.id)
    assert not again.full
    assert again.since is not None
    assert first.watermark is not None
    assert again.since == first.watermark - timedelta(minutes=10)
    assert (again.inserted, again.updated, again.unflagged) == (0, 0, 0)
    assert again.read <= 5  # only the overlap window
    assert again.calls == 2  # one page, one look for learners no longer flagged

    http = wisenet_sandbox.http()
    numbers = sorted(flagged(wisenet_sandbox))
    changed_id = flagged(wisenet_sandbox)[numbers[3]]["LearnerId"]
    unflag_id = flagged(wisenet_sandbox)[numbers[4]]["LearnerId"]
    ops = [{"op": "replace", "path": "Personal/EmailAddresses/Email", "value": "new@example.org"}]
    assert http.patch(f"/learnersAU/{changed_id}", json=ops).status_code == 200
    ops = [{"op": "replace", "path": "Personal/SyncToXero", "value": False}]
    assert http.patch(f"/learnersAU/{unflag_id}", json=ops).status_code == 200
    new = {"Personal": {"FirstName": "Tom", "LastName": "Okafor", "SyncToXero": True}}
    (created,) = http.post("/learnersAU", json=[new]).json()

    third = pull(store, wisenet_sandbox, connection.id)
    assert (third.inserted, third.updated, third.unflagged) == (1, 1, 1)
    local = stored(store)
    assert local[numbers[3]].email == "new@example.org"
    assert local[numbers[4]].sync_to_xero is False
    assert not local[numbers[4]].ready
    assert local[created["Data"]["Personal"]["LearnerNumber"]].first_name == "Tom"
    assert third.calls == 2


def test_a_429_in_the_middle_is_waited_out(
    store: Store, make_wisenet_sandbox: Any, tmp_path: Path
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=2.0)  # more than one page
    connection = connect(store, sandbox, tmp_path)
    clock = sandbox.sandbox.clock
    before = clock.offset

    def refuse_once(event: ProgressEvent) -> None:
        if event.detail and event.detail["pages"] == 1:
            sandbox.fail_next(1)

    result = pull(store, sandbox, connection.id, on_progress=refuse_once)
    expected = flagged(sandbox)
    assert len(expected) > PAGE_SIZE
    assert result.status == "succeeded"
    assert result.read == len(expected)
    assert set(stored(store)) == set(expected)
    assert result.calls == 3  # two pages and the refused call
    assert clock.offset - before >= 1.0  # it backed off (on the sandbox's clock, not ours)


def test_a_spent_day_quota_pauses_the_pull_and_the_next_day_resumes_it(
    store: Store, make_wisenet_sandbox: Any, tmp_path: Path
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=2.0, day=1)
    connection = connect(store, sandbox, tmp_path)
    paused = pull(store, sandbox, connection.id)
    assert paused.status == "paused"
    assert paused.resets_at is not None
    assert paused.inserted == PAGE_SIZE
    assert "quota" in paused.message
    with store.read() as conn:
        run = conn.execute(sa.select(runs).where(runs.c.id == paused.run_id)).one()
    assert run.status == "paused"

    still = pull(store, sandbox, connection.id)
    assert (still.status, still.resumed, still.inserted) == ("paused", True, 0)

    clock = sandbox.sandbox.clock
    clock.advance(86_400 - clock.now() % 86_400 + 1)
    done = pull(store, sandbox, connection.id)
    assert (done.status, done.resumed) == ("succeeded", True)
    assert done.calls == 1
    assert set(stored(store)) == set(flagged(sandbox))
    assert done.watermark is not None


def test_learners_leaving_the_list_mid_pull_shift_no_one_out(
    store: Store, make_wisenet_sandbox: Any, tmp_path: Path
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=2.0)
    connection = connect(store, sandbox, tmp_path)
    http = sandbox.http()
    early = sorted(r["LearnerId"] for r in flagged(sandbox).values())[:5]

    def unflag_early_learners(event: ProgressEvent) -> None:
        if event.detail and event.detail["pages"] == 1:
            ops = [{"op": "replace", "path": "Personal/SyncToXero", "value": False}]
            for learner_id in early:
                assert http.patch(f"/learnersAU/{learner_id}", json=ops).status_code == 200

    result = pull(store, sandbox, connection.id, on_progress=unflag_early_learners)
    now_flagged = flagged(sandbox)
    local = stored(store)
    assert set(now_flagged) <= set(local)  # nobody slid past the page boundary unseen
    # The second page noticed the shift; the pull stepped back a page and read forward again.
    assert result.pages == 4

    later = pull(store, sandbox, connection.id)
    assert later.unflagged == 5
    local = stored(store)
    assert {x.ref_internal for x in local.values() if x.sync_to_xero} == set(now_flagged)


def test_a_full_pull_again_marks_the_learners_it_no_longer_sees(
    store: Store, wisenet_sandbox: WisenetSandbox, tmp_path: Path
) -> None:
    connection = connect(store, wisenet_sandbox, tmp_path)
    pull(store, wisenet_sandbox, connection.id)
    number, record = next(iter(flagged(wisenet_sandbox).items()))
    with wisenet_sandbox.sandbox.store.tx() as conn:  # as if deleted in Wisenet
        conn.execute("DELETE FROM learners WHERE learner_id = ?", (record["LearnerId"],))
    result = pull(store, wisenet_sandbox, connection.id, full=True)
    assert (result.unflagged, result.calls) == (1, 1)
    with store.read() as conn:
        learner = get_learner(conn, number)
    assert learner is not None
    assert learner.sync_to_xero is False


def test_a_dry_run_reads_but_stores_nothing(
    store: Store, wisenet_sandbox: WisenetSandbox, tmp_path: Path
) -> None:
    connection = connect(store, wisenet_sandbox, tmp_path)
    result = pull(store, wisenet_sandbox, connection.id, dry_run=True)
    assert result.inserted == len(flagged(wisenet_sandbox))
    assert result.run_id is None
    assert stored(store) == {}
    assert store.get_meta(f"wisenet:{connection.id}:learners") is None
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one() == 0


def test_a_refused_key_marks_the_connection_for_reconnecting(
    store: Store, wisenet_sandbox: WisenetSandbox, tmp_path: Path
) -> None:
    connection = connect(store, wisenet_sandbox, tmp_path)
    client = wisenet_sandbox.client(api_key="revoked")
    with pytest.raises(WisenetAuthError):
        pull(store, wisenet_sandbox, connection.id, client=client)
    with store.read() as conn:
        state = conn.execute(sa.select(connections.c.state)).scalar_one()
        run = conn.execute(sa.select(runs)).one()
    assert state == "reconnect_needed"
    assert run.status == "failed"
    assert "refused the API key" in run.message
