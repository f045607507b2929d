"""The job frame: run records, one problem schema with one cap, progress events, pauses on a
spent budget, and one run of a job per organisation at a time (a lease in the store)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from learnerledger.errors import (
    BudgetSpent,
    JobRunning,
    RateLimited,
    StoreError,
    WisenetQuotaExhausted,
)
from learnerledger.jobs import Job, Outcome, ProgressEvent
from learnerledger.store import Store, history, open_store


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_run_is_recorded_with_counts_calls_problems_and_its_last_progress(
    store: Store,
) -> None:
    calls = [10]
    events: list[ProgressEvent] = []
    with Job(store, "pull contacts", calls=lambda: calls[0], on_progress=events.append) as job:
        job.count("written", 3)
        job.count("written")
        job.problem("contact 42", "unreadable_record", "Bad date.", field="Date", fix="Fix it.")
        job.progress("contacts", 4, 10)
        calls[0] = 17
        job.message = "4 written."
    assert job.outcome is Outcome.SUCCEEDED
    assert [e.done for e in events] == [4]
    assert events[0].run_id == job.run_id
    assert job.run_id is not None
    run = history.get_run(store, job.run_id)
    assert run is not None
    assert (run.job, run.status, run.calls, run.message) == (
        "pull contacts",
        "succeeded",
        7,
        "4 written.",
    )
    assert run.counts == {"written": 4}
    assert run.problems == [
        {
            "record": "contact 42",
            "code": "unreadable_record",
            "message": "Bad date.",
            "field": "Date",
            "fix": "Fix it.",
        }
    ]
    assert run.progress is not None
    assert (run.progress["stage"], run.progress["done"], run.progress["total"]) == (
        "contacts",
        4,
        10,
    )
    assert run.finished is not None
    assert run.finished >= run.started


def test_problems_beyond_the_cap_are_counted_not_kept(store: Store) -> None:
    with Job(store, "import learners", problem_cap=5) as job:
        for n in range(12):
            job.problem(f"line {n}", "missing_field", "Missing.")
    assert len(job.problems) == 12
    assert job.problems.dropped == 7
    assert job.run_id is not None
    run = history.get_run(store, job.run_id)
    assert run is not None
    assert [p["record"] for p in run.problems] == [f"line {n}" for n in range(5)]
    assert run.problems_dropped == 7


def test_budget_errors_share_one_parent() -> None:
    resumes = datetime(2026, 12, 2, tzinfo=UTC)
    xero = RateLimited("day", 60, resumes)
    wisenet = WisenetQuotaExhausted("Quota spent.", resets_at=resumes)
    assert isinstance(xero, BudgetSpent)
    assert isinstance(wisenet, BudgetSpent)
    assert wisenet.resumes_at == resumes
    assert (xero.limit, wisenet.limit) == ("day", "day")


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("day", 60, datetime(2026, 12, 2, tzinfo=UTC), organisation="Demo"),
        WisenetQuotaExhausted("Quota spent.", resets_at=datetime(2026, 12, 2, tzinfo=UTC)),
    ],
)
def test_a_spent_budget_ends_the_run_paused_with_its_resume_point(
    store: Store, error: BudgetSpent
) -> None:
    with Job(store, "pull learners") as job:
        job.resume_at({"page": 3})
        raise error
    assert job.outcome is Outcome.PAUSED
    assert job.paused is error
    assert job.run_id is not None
    run = history.get_run(store, job.run_id)
    assert run is not None
    assert run.status == "paused"
    assert run.resume == {"page": 3}
    assert run.message == str(error)
    with Job(store, "pull learners") as again:
        assert again.previous is not None
        assert again.previous.id == run.id
        assert again.previous.resume == {"page": 3}


def test_a_failure_is_recorded_and_raised(store: Store) -> None:
    with pytest.raises(StoreError), Job(store, "sync learners") as job:
        raise StoreError("The disk is full.", fix="Free some space.")
    assert job.outcome is Outcome.FAILED
    assert job.run_id is not None
    run = history.get_run(store, job.run_id)
    assert run is not None
    assert (run.status, run.message) == ("failed", "The disk is full. Free some space.")
    with Job(store, "sync learners"):
        pass  # the lease was released


def test_ctrl_c_is_recorded_as_cancelled(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), Job(store, "sync learners") as job:
        raise KeyboardInterrupt
    assert job.outcome is Outcome.CANCELLED
    assert job.run_id is not None
    run = history.get_run(store, job.run_id)
    assert run is not None
    assert run.status == "cancelled"


def test_a_dry_run_writes_no_record_and_takes_no_lease(store: Store) -> None:
    with (
        Job(store, "sync learners", connection_id=None),
        Job(store, "sync learners", record=False) as dry,
    ):
        dry.problem("DAU1", "invalid", "No first name.")
    assert dry.run_id is None
    assert dry.outcome is Outcome.SUCCEEDED
    assert len(dry.problems) == 1


def test_a_second_start_is_refused_naming_the_running_one(store: Store) -> None:
    with Job(store, "sync learners", organisation="Demo Training Co") as first:
        with (
            pytest.raises(JobRunning) as refused,
            Job(store, "sync learners", organisation="Demo Training Co"),
        ):
            pass
        assert refused.value.run_id == first.run_id
        text = str(refused.value)
        assert f"sync learners for 'Demo Training Co' is already running (run #{first.run_id}" in (
            text
        )
        assert f"process {os.getpid()}" in text
        assert "learnerledger status" in text
        # Another job, or the same job for another organisation, is not held up.
        with Job(store, "pull contacts"):
            pass
    with Job(store, "sync learners", organisation="Demo Training Co"):
        pass  # free again once the first ended


def test_a_lease_not_renewed_expires(store: Store) -> None:
    clock = _Clock()
    # A holder on another machine that stopped renewing (only its lease can say it died).
    from learnerledger.store import leases

    assert leases.acquire(
        store,
        "job:sync learners:-",
        "elsewhere",
        now_ms=int(clock() * 1000),
        lease_ms=60_000,
        detail={"host": "another-machine", "pid": 1},
    )
    with pytest.raises(JobRunning) as refused, Job(store, "sync learners", clock=clock):
        pass
    assert "another-machine" in str(refused.value)
    assert refused.value.expires_at == datetime.fromtimestamp(clock() + 60, UTC)
    clock.now += timedelta(seconds=61).total_seconds()
    with Job(store, "sync learners", clock=clock) as job:
        pass
    assert job.outcome is Outcome.SUCCEEDED


def test_the_lease_of_a_dead_process_on_this_machine_is_taken_over(
    tmp_path: Path, store: Store
) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    script = (
        "import os, sys\n"
        "from learnerledger.jobs import Job\n"
        "from learnerledger.store import open_store\n"
        f"store = open_store({url!r})\n"
        "job = Job(store, 'sync learners').__enter__()\n"
        "print(job.run_id, flush=True)\n"
        "os._exit(9)  # dies holding the lease\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 9, done.stderr
    dead_run = int(done.stdout.strip())
    with Job(store, "sync learners") as job:
        pass
    assert job.run_id is not None
    assert job.run_id > dead_run


def test_two_starts_at_once_give_exactly_one_run(store_url: str) -> None:
    open_store(store_url).close()
    stores = [open_store(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    release = threading.Event()
    started: list[int] = []
    refused: list[JobRunning] = []

    def start(s: Store) -> None:
        barrier.wait()
        try:
            with Job(s, "sync learners") as job:
                assert job.run_id is not None
                started.append(job.run_id)
                release.wait(timeout=60)
        except JobRunning as exc:
            refused.append(exc)
            if len(refused) == len(stores) - 1:
                release.set()

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in stores:
        s.close()
    assert len(started) == 1
    assert len(refused) == 3
    assert {r.run_id for r in refused} == set(started)
