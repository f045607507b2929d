"""`learnerledger demo --no-serve` runs the whole flow on fresh sandboxes and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from learnerledger.demo import run_demo
from learnerledger.sandbox.seed import demo_people, legacy_contacts


def test_the_demo_runs_the_flow_end_to_end(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", port=0, echo=lines.append)
    people = demo_people()
    flagged = sum(p.sync_to_xero for p in people)
    assert result["organisation"] == "Demo Training Co"
    assert result["contacts"] == len(legacy_contacts(people))
    assert result["learners"] == flagged
    sync = result["sync"]
    planned = result["planned"]
    # Every ready learner ended with a contact (created, adopted, updated or already right),
    # or waits for a person's decision on a possible match.
    assert sync["created"] == planned["create"]
    assert sync["adopted"] == planned["adopt"] > 0
    assert sync["updated"] == planned["update"]
    ended = sync["created"] + sync["adopted"] + sync["updated"] + sync["unchanged"]
    assert ended + sync["review"] == result["learners_ready"]
    assert sync["failed"] == 0
    assert result["rerun_calls"] <= 2
    # The confident duplicate pairs were confirmed, adopted or merged (through the API and the
    # worklist's merges in Xero) and verified; the documents reached Wisenet and agree.
    assert result["confirmed"] == result["duplicates"]["auto"] > 0
    assert result["resync_learners"]["adopted"] > 0
    assert result["merge"]["failed"] == 0
    assert result["merged_by_hand"] == result["merge"]["worklist"] > 0
    assert result["verify"]["done"] >= result["merged_by_hand"]
    assert result["verify"]["wrong_direction"] == result["verify"]["stopped"] == 0
    assert result["verify"]["worklist"] == 0
    assert result["resync_status"] == "succeeded"
    assert result["resync"]["written"] > 0
    assert result["resync"]["refused"] == 0
    assert result["mismatches"] == 0
    assert result["reconciled"] > 0
    assert result["branding_ok"]
    text = "\n".join(lines)
    assert "nothing is sent" in text
    assert text.rstrip().endswith("shows the whole picture.")


def test_the_demo_starts_afresh_every_time(tmp_path: Path) -> None:
    first = run_demo(tmp_path / "demo", port=0, echo=lambda _: None)
    second = run_demo(tmp_path / "demo", port=0, echo=lambda _: None)
    assert first["sync"] == second["sync"]


def test_the_demo_keeps_serving_until_stopped(tmp_path: Path) -> None:
    stop = threading.Event()
    lines: list[str] = []
    dashboards: list[httpx.Response] = []

    def sign_in(url: str, password: str) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as web:
            login = web.get("/login")
            field, token = re.findall(r'name="(csrf[^"]*)" value="([^"]*)"', login.text)[0]
            web.post("/login", data={"username": "demo", "password": password, field: token})
            return web.get("/")

    def echo(line: str) -> None:
        lines.append(line)
        shown = re.search(r"finance staff: (\S+)/ \(sign in as demo, (\S+)\)\.", line)
        if shown:
            dashboards.append(sign_in(shown.group(1), shown.group(2)))
        if "Press Ctrl-C" in line:
            stop.set()

    result = run_demo(tmp_path / "demo", port=0, serve=True, echo=echo, stop=stop)
    assert any("keep running" in line for line in lines)
    # The printed demo sign-in opens the web UI's dashboard on the demo's store.
    [dashboard] = dashboards
    assert dashboard.status_code == 200
    assert "Demo Training Co" in dashboard.text
    assert result["web_user"] == "demo"


@pytest.mark.slow
def test_demo_command_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "learnerledger",
            "--home",
            str(tmp_path / "state"),
            "demo",
            "--no-serve",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Done." in result.stdout
