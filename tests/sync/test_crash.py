"""A sync killed at any moment (SIGKILL, no chance to clean up) and run again finishes the
work: every learner has exactly one contact, and the contacts are those the plan promised."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import ConnectedXero, XeroSandbox
from learnerledger.sandbox.xero import Limits
from learnerledger.store.sync_tables import journal_steps
from learnerledger.sync import sync_learners
from sync.test_sync_learners import make_learner, put_learners, xero_contacts

pytestmark = pytest.mark.slow


def _done(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(journal_steps)
                    .where(journal_steps.c.status == "done")
                ).scalar_one()
            )
    except sa.exc.OperationalError:
        return 0  # the table does not exist yet
    finally:
        engine.dispose()


def _sync_process(home: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "learnerledger",
            "--home",
            str(home),
            "--database-url",
            f"sqlite:///{db}",
            "sync",
            "learners",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_killed_runs_resume_without_duplicates(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(
        limits=Limits(minute=100_000, day=1_000_000), latency_ms=60
    )
    setup: ConnectedXero = connect_xero(sandbox)
    refs = [f"DAU{i:07d}" for i in range(400)]
    put_learners(setup.store, *(make_learner(r, first=f"L{r[-4:]}") for r in refs))
    with setup.client() as client:
        planned = sync_learners(setup.store, client, dry_run=True).plan.totals()["create"]
    assert planned == 400
    db = tmp_path / "learnerledger.db"
    home = Path(str(setup.config.home))
    kills = 0
    for kill_after in (1, 120, 260):
        process = _sync_process(home, db)
        deadline = time.monotonic() + 120
        while process.poll() is None and _done(db) < kill_after and time.monotonic() < deadline:
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=30)
    assert kills >= 2, "the runs ended before they could be killed: slow the sandbox down"
    final = _sync_process(home, db)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    contacts = xero_contacts(sandbox)
    numbers = Counter(c.get("ContactNumber") for c in contacts)
    assert len(contacts) == planned
    assert all(numbers[r] == 1 for r in refs)
    with setup.client() as client:
        again = sync_learners(setup.store, client)
    assert again.counts()["unchanged"] == 400
