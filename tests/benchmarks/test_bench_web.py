"""The web benchmark's harness on a small store: it fills the store as it says, serves the
Learners pages signed in, and prints every figure with the goal (the timing itself is the
benchmark's business, not a test's)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench_web
from learnerledger.store import open_store
from learnerledger.store.listing import count_link_states


def test_the_store_it_fills_has_the_shape_it_describes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'bench.db'}")
    connection_id = bench_web.fill(store, 200)
    assert count_link_states(store, connection_id) == {
        "linked": 120,  # six in ten
        "ready": 60,
        "invalid": 20,  # every tenth has no email
        "conflict": 0,
        "not_flagged": 0,
    }
    store.close()


def test_it_prints_each_page_and_the_goal(capsys: pytest.CaptureFixture[str]) -> None:
    bench_web.main(["--learners", "120", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "store: 120 learners" in out
    for path in ("/learners ", "/learners?q=priya+natarajan", "/learners?state=invalid", "/ "):
        assert f"{path}" in out
    assert " 200 " in out
    assert "goal < 300 ms" in out
