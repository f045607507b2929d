"""A sync killed (SIGKILL, no chance to clean up) and run again finishes the work: every
learner has exactly one contact, and the contacts are those the plan promised.

The kills land at known points: the sandbox holds a chosen write until the process is dead,
then lets it happen after all or never; no kill depends on how fast the machine is."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import ConnectedXero, XeroSandbox
from learnerledger.sandbox.xero import Limits
from learnerledger.store.sync_tables import journal_steps
from learnerledger.sync import sync_learners
from learnerledger.sync.plan import BATCH
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


def _fault(sandbox: XeroSandbox, action: str = "", **body: Any) -> Any:
    url = f"{sandbox.url}/sandbox/faults{action}"
    response = httpx.get(url, params=body) if action == "/held" else httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _kill_while_held(sandbox: XeroSandbox, home: Path, db: Path, *, skip: int, then: str) -> None:
    """Run a sync, hold its PUT /Contacts after ``skip`` others went through, SIGKILL it while
    that write is in flight, then let the write go on (``answer``) or never happen (``drop``)."""
    hold = {"kind": "hold", "count": 1, "skip": skip, "method": "PUT", "path": "Contacts"}
    _fault(sandbox, rules=[hold])
    process = _sync_process(home, db)
    try:
        _fault(sandbox, "/held", count=1)
        assert process.poll() is None, process.communicate()
    finally:
        process.kill()
        process.communicate(timeout=60)
    # The client is gone before the sandbox decides the fate of its write.
    assert _fault(sandbox, "/release", then=then) == {"released": 1}
    _fault(sandbox, rules=[])


def test_killed_runs_resume_without_duplicates(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=100_000, day=1_000_000))
    setup: ConnectedXero = connect_xero(sandbox)
    refs = [f"DAU{i:07d}" for i in range(400)]
    put_learners(setup.store, *(make_learner(r, first=f"L{r[-4:]}") for r in refs))
    with setup.client() as client:
        planned = sync_learners(setup.store, client, dry_run=True).plan.totals()["create"]
    assert planned == 400
    db = tmp_path / "learnerledger.db"
    home = Path(str(setup.config.home))
    # Killed with its first write in flight, which never reaches Xero.
    _kill_while_held(sandbox, home, db, skip=0, then="drop")
    assert (_done(db), len(xero_contacts(sandbox))) == (0, 0)
    # Killed with its third write in flight, which Xero then carries out.
    _kill_while_held(sandbox, home, db, skip=2, then="answer")
    assert (_done(db), len(xero_contacts(sandbox))) == (2 * BATCH, 3 * BATCH)
    # Killed with the last write of the plan in flight, lost again.
    _kill_while_held(sandbox, home, db, skip=4, then="drop")
    assert (_done(db), len(xero_contacts(sandbox))) == (7 * BATCH, 7 * BATCH)
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
