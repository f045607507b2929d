"""A merge apply killed (SIGKILL, no chance to clean up) and run again finishes the work with
nothing moved twice: every document ends on the learner's contact, moved by exactly one write
that Xero carried out, and the emptied legacy contact is archived.

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

from conftest import XeroSandbox
from merge.scenario import Org, organisation, sync_and_confirm

pytestmark = pytest.mark.slow

N = 150  # three batches of 50


def _apply_process(home: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "learnerledger",
            "--home",
            str(home),
            "--database-url",
            f"sqlite:///{db}",
            "merge",
            "apply",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # The process runs on the real clock: a roomy budget, so that nothing waits.
        env={**os.environ, "PYTHONUNBUFFERED": "1", "LEARNERLEDGER_XERO_MINUTE_LIMIT": "100000"},
    )


def _fault(sandbox: XeroSandbox, action: str = "", **body: Any) -> Any:
    url = f"{sandbox.url}/sandbox/faults{action}"
    if action == "/held":  # waits until the process reaches the held call
        response = httpx.get(url, params=body, timeout=float(body.get("timeout", 30)) + 10)
    else:
        response = httpx.post(url, json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _kill_while_held(sandbox: XeroSandbox, home: Path, db: Path, *, skip: int, then: str) -> None:
    """Run an apply, hold its POST /Invoices after ``skip`` others went through, SIGKILL it
    while that write is in flight, then let the write go on (``answer``) or never happen."""
    hold = {"kind": "hold", "count": 1, "skip": skip, "method": "POST", "path": "^/Invoices$"}
    _fault(sandbox, rules=[hold])
    process = _apply_process(home, db)
    try:
        _fault(sandbox, "/held", count=1, timeout=120)
        assert process.poll() is None, process.communicate()
    finally:
        process.kill()
        process.communicate(timeout=60)
    assert _fault(sandbox, "/release", then=then) == {"released": 1}
    _fault(sandbox, rules=[])


def _writes_carried_out(sandbox: XeroSandbox) -> Counter[str]:
    """How many POST /Invoices that Xero carried out re-pointed each invoice (a held call that
    was then dropped did nothing: it carries the X-Sandbox-Fault header)."""
    moved: Counter[str] = Counter()
    for ex in sandbox.recorder.exchanges:
        dropped = ex.response_headers.get("x-sandbox-fault") == "hold"
        if (
            ex.method == "POST"
            and ex.path.endswith("/Invoices")
            and ex.status == 200
            and not dropped
        ):
            for item in json.loads(ex.request_body)["Invoices"]:
                moved[item["InvoiceID"]] += 1
    return moved


def test_a_killed_apply_resumes_with_nothing_moved_twice(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    org: Org = organisation(make_xero_sandbox, connect_xero)
    legacy = org.legacy["DAU0000001"]
    org.invoices(legacy, N, drafts_every=3)
    sync_and_confirm(org)
    survivor = org.survivor("DAU0000001")
    sandbox = org.sandbox
    home = Path(str(org.setup.config.home))
    db = tmp_path / "learnerledger.db"

    # Killed with its first move in flight, which never reaches Xero.
    _kill_while_held(sandbox, home, db, skip=0, then="drop")
    assert len(org.documents(legacy)) == N
    # Killed with its second batch in flight, which Xero then carries out.
    _kill_while_held(sandbox, home, db, skip=1, then="answer")
    assert len(org.documents(survivor)) == 100
    final = _apply_process(home, db)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert "left by an earlier run" in out

    assert org.documents(legacy) == {}
    assert len(org.documents(survivor)) == N
    assert org.contact(legacy)["ContactStatus"] == "ARCHIVED"
    moved = _writes_carried_out(sandbox)
    assert len(moved) == N
    assert set(moved.values()) == {1}  # nothing moved twice
