"""A resync killed (SIGKILL, no chance to clean up) and run again writes each document once:
what the killed run sent is read back and settled, the rest is written, nothing twice.

The kills land at known points: the Wisenet sandbox holds a chosen write until the process is
dead, then carries it out after all or never; no kill depends on how fast the machine is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from learnerledger.store import resync as held_store
from resync.conftest import World

pytestmark = pytest.mark.slow


def _resync_process(world: World, home: Path) -> subprocess.Popen[str]:
    db = world.store.engine.url.database
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "learnerledger",
            "--home",
            str(home),
            "--database-url",
            f"sqlite:///{db}",
            "resync",
            "documents",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _fault(world: World, action: str = "", **body: Any) -> Any:
    url = f"{world.wisenet.server.url}/sandbox/faults{action}"
    response = httpx.get(url, params=body) if action == "/held" else httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _kill_while_held(world: World, home: Path, *, skip: int, then: str) -> None:
    """Run a resync, hold its PUT /invoices after ``skip`` others went through, SIGKILL it
    while that write is in flight, then let the write happen (``answer``) or never (``drop``)."""
    hold = {"kind": "hold", "count": 1, "skip": skip, "method": "PUT", "path": "^/invoices/"}
    _fault(world, rules=[hold])
    process = _resync_process(world, home)
    try:
        _fault(world, "/held", count=1)
        assert process.poll() is None, process.communicate()
    finally:
        process.kill()
        process.communicate(timeout=60)
    assert _fault(world, "/release", then=then) == {"released": 1}
    _fault(world, rules=[])


def test_killed_resyncs_resume_and_write_each_document_once(world: World, tmp_path: Path) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    invoices = [world.invoice(ada if i % 2 else grace, f"{100 + i}.00") for i in range(12)]
    home = tmp_path / "home"
    world.reset_calls()

    # Killed with its fifth write in flight, which Wisenet then carries out.
    _kill_while_held(world, home, skip=4, then="answer")
    assert len(world.invoices()) == 5
    pending = [
        h for h in held_store.load_held(world.store, world.xero.connection.id).values() if h.pending
    ]
    assert len(pending) == 12  # sent or about to be: their outcome is not known yet

    # Run again, killed with its third write in flight, which never happens.
    _kill_while_held(world, home, skip=2, then="drop")
    assert len(world.invoices()) == 7

    final = _resync_process(world, home)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err

    assert set(world.invoices()) == {i["InvoiceID"] for i in invoices}
    calls = world.calls()
    # 5 + 3 writes in the killed runs (one of them dropped undone), then the 5 left: each
    # document written once, and the dropped one once more.
    assert calls["PUT /invoices/{id}"] == 12 + 1
    # what the killed runs left unanswered was read back once each, not written again
    assert calls["GET /invoices/{id}"] == 12 + 7
    held = held_store.load_held(world.store, world.xero.connection.id)
    assert all(h.pending is None and h.body_hash for h in held.values())
    assert len(held) == 12
    again = world.resync()
    assert again.unchanged == 12
    assert again.counts()["written"] == 0
