"""``pull learners`` and ``import learners`` run in the job frame: each leaves one run record
in the History (counts, calls, problems in the frame's schema, the resume point of a paused
pull) and reports progress as frame events; a dry run leaves none."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import WisenetSandbox
from learnerledger.jobs import ProgressEvent
from learnerledger.sources import csvfile
from learnerledger.sources.csvfile import import_learners
from learnerledger.sources.wisenet import (
    PAGE_SIZE,
    WisenetConnection,
    connect_wisenet,
    open_client,
    pull_learners,
)
from learnerledger.store import Store, history, load_secret_box
from learnerledger.store.learners import count_learners

TODAY = date(2026, 11, 1)
HEADER = (
    "RefInternal,FirstName,LastName,Email,StreetAddress,StreetSuburb,StreetState,StreetPostcode"
)


def connect(store: Store, sandbox: WisenetSandbox, tmp_path: Path) -> WisenetConnection:
    box = load_secret_box(tmp_path / "home", environ={})
    return connect_wisenet(store, box, api_key=sandbox.api_key, base_url=sandbox.url, check=False)


def test_a_pull_leaves_one_run_record_and_reports_progress(
    store: Store, wisenet_sandbox: WisenetSandbox, tmp_path: Path
) -> None:
    connection = connect(store, wisenet_sandbox, tmp_path)
    events: list[ProgressEvent] = []
    result = pull_learners(
        store, wisenet_sandbox.client(), connection_id=connection.id, on_progress=events.append
    )
    assert result.run_id is not None
    run = history.get_run(store, result.run_id)
    assert run is not None
    assert (run.job, run.status, run.connection_id) == ("pull learners", "succeeded", connection.id)
    assert run.organisation == connection.name
    assert run.calls == result.calls == 1
    assert run.counts == result.counts()
    assert run.message == result.message
    assert run.resume is None
    assert run.problems == []
    assert [(e.job, e.stage, e.done, e.total) for e in events] == [
        ("pull learners", "learners", result.read, None)
    ]
    assert events[0].detail == {"pages": 1}
    assert events[0].run_id == result.run_id


def test_a_paused_pull_is_recorded_paused_and_the_next_run_resumes_it(
    store: Store, make_wisenet_sandbox: Any, tmp_path: Path
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=2.0, day=1)
    connection = connect(store, sandbox, tmp_path)
    paused = pull_learners(store, sandbox.client(), connection_id=connection.id)
    assert paused.status == "paused"
    assert paused.run_id is not None
    run = history.get_run(store, paused.run_id)
    assert run is not None
    assert run.status == "paused"
    assert "quota" in run.message
    assert run.counts["inserted"] == PAGE_SIZE
    assert run.resume is not None
    assert run.resume["skip"] == PAGE_SIZE - 1  # the next page starts on the last one read

    clock = sandbox.sandbox.clock
    clock.advance(86_400 - clock.now() % 86_400 + 1)
    done = pull_learners(store, sandbox.client(), connection_id=connection.id)
    assert (done.status, done.resumed) == ("succeeded", True)
    assert done.run_id is not None
    assert done.run_id != paused.run_id
    finished = history.get_run(store, done.run_id)
    assert finished is not None
    assert (finished.status, finished.resume) == ("succeeded", None)
    with store.read() as conn:
        stored = count_learners(conn).learners
    assert run.counts["inserted"] + finished.counts["inserted"] == stored > PAGE_SIZE


def test_a_dry_run_pull_that_meets_the_quota_is_paused_and_records_nothing(
    store: Store, make_wisenet_sandbox: Any, tmp_path: Path
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=2.0, day=1)
    connection = connect(store, sandbox, tmp_path)
    result = pull_learners(store, sandbox.client(), connection_id=connection.id, dry_run=True)
    assert (result.status, result.run_id) == ("paused", None)
    assert result.resets_at is not None
    assert history.latest_runs(store) == []
    assert store.get_meta(f"wisenet:{connection.id}:learners") is None


def _unusable_then_good() -> httpx.MockTransport:
    good = {
        "LearnerId": 8,
        "Personal": {"LearnerNumber": "DAU8", "FirstName": "Ann", "SyncToXero": True},
    }
    items = [{"Data": {"LearnerId": 7, "Personal": {"SyncToXero": True}}}, {"Data": good}]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/learnersAU"
        return httpx.Response(200, json=items)

    return httpx.MockTransport(handler)


def test_an_unusable_learner_record_is_a_problem_of_the_run(store: Store, tmp_path: Path) -> None:
    box = load_secret_box(tmp_path / "home", environ={})
    url = "https://api.example.test/v1"
    connection = connect_wisenet(store, box, api_key="k", base_url=url, check=False)
    client = open_client(
        url,
        "k",
        transport=_unusable_then_good(),
        sleep=lambda _s: None,
        now=lambda: datetime(2026, 3, 4, 22, 0, tzinfo=UTC),
    )
    with client:
        result = pull_learners(store, client, connection_id=connection.id)
    assert (result.read, result.inserted) == (2, 1)
    assert [s["record"] for s in result.skipped] == ["learner 7"]
    assert result.run_id is not None
    run = history.get_run(store, result.run_id)
    assert run is not None
    assert run.counts["skipped"] == 1
    (problem,) = run.problems
    assert problem["record"] == "learner 7"
    assert (problem["code"], problem["field"]) == ("ref_missing", "LearnerNumber")
    assert "LearnerNumber" in problem["message"]


def test_an_import_records_each_rejected_value_as_a_problem(tmp_path: Path, store: Store) -> None:
    good = "DAU1,Ann,Lee,ann@example.com,1 George St,Sydney,NSW,2000"
    bad_state = "DAU2,Bo,Lee,bo@example.com,2 George St,Sydney,Nowhere,2000"
    too_many = "DAU3,Cy,Lee,cy@example.com,3 George St,Sydney,NSW,2000,extra"
    path = tmp_path / "in.csv"
    path.write_text("\n".join([HEADER, good, bad_state, too_many]) + "\n", encoding="utf-8")
    result = import_learners(store, path, today=TODAY)
    assert result.run_id is not None
    run = history.get_run(store, result.run_id)
    assert run is not None
    assert (run.job, run.status, run.connection_id) == ("import learners", "succeeded", None)
    assert run.counts == result.counts()
    assert run.message == "in.csv: 1 imported, 2 rejected"
    found = [(p["record"], p["code"], p["field"]) for p in run.problems]
    assert found == [
        ("line 3 (DAU2)", "bad_state", "StreetState"),
        ("line 4 (DAU3)", "too_many_values", ""),
    ]
    assert all(p["message"] for p in run.problems)


def test_an_import_reports_progress_with_the_files_row_count(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvfile, "_PROGRESS_EVERY", 2)
    rows = [f"DAU{n},Ann,Lee,ann@example.com,1 George St,Sydney,NSW,2000" for n in range(5)]
    path = tmp_path / "in.csv"
    path.write_text("\n".join([HEADER, *rows, "", ""]) + "\n", encoding="utf-8")
    events: list[ProgressEvent] = []
    result = import_learners(store, path, today=TODAY, on_progress=events.append)
    assert result.rows == 5
    assert [(e.job, e.stage, e.done, e.total) for e in events] == [
        ("import learners", "learners", 2, 5),
        ("import learners", "learners", 4, 5),
    ]


def test_a_dry_run_import_collects_problems_but_records_no_run(
    tmp_path: Path, store: Store
) -> None:
    bad = "DAU2,Bo,Lee,bo@example.com,2 George St,Sydney,Nowhere,2000"
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "\n" + bad + "\n", encoding="utf-8")
    result = import_learners(store, path, today=TODAY, dry_run=True)
    assert (result.run_id, len(result.rejected)) == (None, 1)
    assert history.latest_runs(store) == []
