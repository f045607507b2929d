"""`learnerledger demo --no-serve` runs the whole flow on fresh sandboxes and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from learnerledger.demo import run_demo
from learnerledger.sandbox.seed import demo_people, legacy_contacts


def test_demo_reads_the_seeded_organisation_back(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", port=0, echo=lines.append)
    legacy = legacy_contacts(demo_people())
    assert result["organisation"] == "Demo Training Co"
    assert result["contacts"] == len(legacy)
    assert result["archived"] == sum(c.contact.get("ContactStatus") == "ARCHIVED" for c in legacy)
    assert result["api_calls"] == 3
    text = "\n".join(lines)
    assert f"Contacts: {len(legacy)}" in text
    assert text.rstrip().endswith("Done.")


def test_demo_starts_afresh_every_time(tmp_path: Path) -> None:
    first = run_demo(tmp_path / "demo", port=0, echo=lambda _: None)
    second = run_demo(tmp_path / "demo", port=0, echo=lambda _: None)
    assert first["contacts"] == second["contacts"]


def test_demo_keeps_serving_until_stopped(tmp_path: Path) -> None:
    stop = threading.Event()
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if "Press Ctrl-C" in line:
            stop.set()

    run_demo(tmp_path / "demo", port=0, serve=True, echo=echo, stop=stop)
    assert any("keeps running" in line for line in lines)


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
