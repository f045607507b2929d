"""A sync killed (SIGKILL, no chance to clean up) and run again finishes the work: every
learner has exactly one contact, and the contacts are those the plan promised, whether they
were created or adopted (hand-typed contacts taken over by their learners).

The kills land at known points: the sandbox holds a chosen write until the process is dead,
then lets it happen after all or never; no kill depends on how fast the machine is."""

from __future__ import annotations

import json
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
from learnerledger.sandbox.xero import DEFAULT_TENANT_ID, Limits
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.store.sync_tables import contact_links, journal_steps
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


def _kill_while_held(
    sandbox: XeroSandbox, home: Path, db: Path, *, skip: int, then: str, method: str = "PUT"
) -> None:
    """Run a sync, hold its ``method`` /Contacts (PUT creates, POST updates and adopts) after
    ``skip`` others went through, SIGKILL it while that write is in flight, then let the write
    go on (``answer``) or never happen (``drop``)."""
    hold = {"kind": "hold", "count": 1, "skip": skip, "method": method, "path": "Contacts"}
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


FIRST = ["Felicity", "Samantha", "Oliver", "Priya", "Mohammed", "Chloe", "Liam", "Aroha", "Mei"]
LAST = ["Jones", "Nguyen", "Smith", "Natarajan", "Haddad", "Wilson", "Brown", "Ngata", "Chen"]


def _numbered(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(contact_links)).scalar_one()
            )
    finally:
        engine.dispose()


def test_killed_adopts_resume_without_duplicates(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=100_000, day=1_000_000))
    setup: ConnectedXero = connect_xero(sandbox)
    refs = [f"DAU{i:07d}" for i in range(3 * BATCH)]
    learners = [
        make_learner(
            r,
            first=FIRST[i % 9],
            last=LAST[i // 9 % 9] + "-" + LAST[i // 81],
            mobile=f"+614{i:08d}",
        )
        for i, r in enumerate(refs)
    ]
    legacy = {}
    with sandbox.store.tx() as conn:  # typed in by hand, years before the integration
        for x in learners:
            legacy[x.ref_internal] = insert_contact(
                conn,
                DEFAULT_TENANT_ID,
                {"Name": f"{x.last_name.upper()}, {x.first_name}", "EmailAddress": x.email},
                now_ms=sandbox.clock.now_ms() - 86_400_000,
            )
    put_learners(setup.store, *learners)
    with setup.client() as client:
        totals = sync_learners(setup.store, client, mode="adopt", dry_run=True).plan.totals()
    assert (totals["adopt"], totals["create"]) == (3 * BATCH, 0)
    db = tmp_path / "learnerledger.db"
    home = Path(str(setup.config.home))
    # Killed with its first adopt batch in flight, which never reaches Xero.
    _kill_while_held(sandbox, home, db, skip=0, then="drop", method="POST")
    assert by_ref(sandbox) == {}
    # Killed with its second batch in flight, which Xero then carries out.
    _kill_while_held(sandbox, home, db, skip=1, then="answer", method="POST")
    assert (_done(db), len(by_ref(sandbox))) == (BATCH, 2 * BATCH)
    final = _sync_process(home, db)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    contacts = xero_contacts(sandbox)
    assert len(contacts) == len(refs)  # nothing created beside the hand-typed contacts
    assert by_ref(sandbox) == legacy  # each learner took over its own, exactly once
    posts = [e for e in sandbox.recorder.api_exchanges() if e.method == "POST"]
    # Four batches of 50: the first (lost) and the next two in the second run, the last in the
    # final one. The batch Xero carried out after its sender died was looked up, not resent.
    assert [len(json.loads(e.request_body)["Contacts"]) for e in posts] == [BATCH] * 4
    assert _numbered(db) == len(refs)
    with setup.client() as client:
        again = sync_learners(setup.store, client, mode="adopt")
    assert again.counts()["unchanged"] == len(refs)


def by_ref(sandbox: XeroSandbox) -> dict[str, str]:
    """ContactNumber -> ContactID of the contacts that carry one (each at most once)."""
    held = [c for c in xero_contacts(sandbox) if c.get("ContactNumber")]
    numbers = Counter(c["ContactNumber"] for c in held)
    assert set(numbers.values()) <= {1}, numbers
    return {c["ContactNumber"]: c["ContactID"] for c in held}
